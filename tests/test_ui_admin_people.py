"""PL-20: the administrator's people pages over real HTTP (SQLite and PostgreSQL): users, the department
tree, the role permission matrix and the people import; plus one walk through the user form in Chromium.

The application is the scoped_crm pack with the people of tests/support/people.py (departments
Outreach > Team A > Team A-1, Team B, Branch; users admin, boss (role with the admin right), mgr, l1..l4,
clerk, nobody), served with the web UI on a live uvicorn.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

import ui.app
from runtime.api import create_app
from runtime.oplog import OpFilter, query_operations
from runtime.permissions.model import entity_access
from tests.support.html import Node, csrf_of, dom, sign_in
from tests.support.people import ADMIN_PASSWORD, PASSWORD, Scoped, scoped_fixture  # noqa: F401
from tests.support.server import live_server


@dataclass
class Site:
    scoped: Scoped
    url: str

    def client(self, who: str = "admin") -> httpx.Client:
        """A browser-like client signed in through the login page (Chinese UI, no redirects followed)."""
        client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "zh-CN"})
        r = sign_in(client, who, ADMIN_PASSWORD if who == "admin" else PASSWORD)
        assert r.status_code == 303, r.text
        return client

    def operations(self, kind: str) -> list[dict]:
        return query_operations(self.scoped.tessera.db, OpFilter(kind=kind), limit=500)


@pytest.fixture
def site(scoped: Scoped) -> Iterator[Site]:
    with live_server(create_app(scoped.tessera, extensions=[ui.app.install])) as url:
        yield Site(scoped, url)


def form_data(form: Node) -> dict[str, list[str]]:
    """What a browser would post for this form as it stands (ticked boxes, selected options, typed values)."""
    data: dict[str, list[str]] = {}
    for node in form.iter():
        name = node.attrs.get("name")
        if not name or "disabled" in node.attrs:
            continue
        if node.tag == "input":
            kind = node.attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in node.attrs:
                continue
            if kind == "file":
                continue
            data.setdefault(name, []).append(node.attrs.get("value", ""))
        elif node.tag == "select":
            options = node.find_all("option")
            chosen = [o for o in options if "selected" in o.attrs] or options[:1]
            data.setdefault(name, []).append(chosen[0].attrs.get("value", "") if chosen else "")
        elif node.tag == "textarea":
            data.setdefault(name, []).append(node.text())
    return data


def post_form(
    client: httpx.Client, path: str, form_id: str, changes: dict[str, str | list[str] | None]
) -> httpx.Response:
    """Open the page, fill in the form like a person would (None unticks a box) and submit it."""
    page = dom(client.get(path).text)
    form = page.by_id(form_id)
    data = form_data(form)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value if isinstance(value, list) else [value]
    return client.post(form.attrs["action"], data=data)


def new_user_data(site: Site, **extra: str | list[str]) -> dict[str, str | list[str]]:
    return {
        "username": "wang.li",
        "display_name": "王丽",
        "organisation": "First Hospital",
        "department_id": str(site.scoped.departments["team_b"]),
        "phone": "13812340000",
        "email": "wang.li@example.com",
        "notify_channels": ["in_app", "sms"],
        "roles": ["liaison"],
        **extra,
    }


def user_count(site: Site) -> int:
    return site.scoped.admin.count_users()


# users ------------------------------------------------------------------------------------------
def test_pl20_admin_creates_a_user_in_the_form_and_finds_them_in_the_list(site: Site) -> None:
    admin = site.client()
    new = dom(admin.get("/admin/users/new").text)
    labels = {n.text() for n in new.by_id("fw-roles").find_all("span", class_="fw-semibold")}
    assert {"联络员", "经理", "员工"} <= labels, "roles are offered with their labels"
    assert "Sees and edits the hospitals of the whole team" in new.by_id("fw-roles").text(), "and descriptions"
    options = [o.text().strip() for o in new.by_id("f-department_id").find_all("option")]
    assert "Team A-1" in options and options.index("Team A-1") > options.index("Team A"), "the tree, in order"

    r = post_form(admin, "/admin/users/new", "user-form", new_user_data(site))
    assert r.status_code == 201, r.text
    page = dom(r.text)
    password = page.by_id("initial-password").text()
    assert len(password) >= 16 and "no-store" in r.headers["cache-control"]
    with httpx.Client(base_url=site.url) as fresh:
        assert sign_in(fresh, "wang.li", password).status_code == 303, "the generated password signs in"

    listing = dom(admin.get("/admin/users", params={"q": "wang"}).text)
    row = listing.find("tr", data_user="wang.li")
    assert "王丽" in row.text() and "Team B" in row.text() and "First Hospital" in row.text()
    assert [b.text() for b in row.find_all("span", data_role="liaison")] == ["联络员"]
    assert "启用" in row.text()
    by_role = dom(admin.get("/admin/users", params={"role": "liaison"}).text)
    assert {"wang.li", "l1", "l2"} <= {n.attrs["data-user"] for n in by_role.find_all("tr") if "data-user" in n.attrs}
    by_dept = admin.get("/admin/users", params={"department_id": site.scoped.departments["team_a"]}).text
    assert 'data-user="l1"' in by_dept and 'data-user="wang.li"' not in by_dept
    assert 'data-user="wang.li"' not in admin.get("/admin/users", params={"active": "false"}).text
    htmx = admin.get("/admin/users", params={"q": "wang"}, headers={"HX-Request": "true"})
    assert htmx.text.lstrip().startswith('<div class="table-responsive') and "<html" not in htmx.text

    user = site.scoped.tessera.users.by_username("wang.li")
    assert user is not None and user.department_id == site.scoped.departments["team_b"]
    detail = site.scoped.admin.get_user(user.id)
    assert detail["notify_channels"] == ["in_app", "sms"] and detail["roles"] == ["liaison"]
    logged = [o for o in site.operations("permission_change") if o["detail"].get("username") == "wang.li"]
    assert logged and logged[0]["username"] == "admin" and logged[0]["detail"]["event"] == "user_created"


def test_pl20_user_form_errors_are_shown_next_to_each_field(site: Site) -> None:
    admin = site.client()
    before = user_count(site)
    r = post_form(
        admin, "/admin/users/new", "user-form", new_user_data(site, username="l1", email="not-an-email", phone="12345")
    )
    assert r.status_code == 422
    page = dom(r.text)
    assert "账号「l1」已被使用" in page.by_id("fe-username").text()
    assert "不是有效的邮箱地址" in page.by_id("fe-email").text()
    assert "不是有效的电话号码" in page.by_id("fe-phone").text()
    assert page.by_id("f-email").attrs["value"] == "not-an-email", "the input comes back as typed"
    assert "form.errors_title" not in r.text and "请修正以下 3 处问题" in page.by_id("error-summary").text()
    assert user_count(site) == before, "nothing was written"

    weak = post_form(admin, "/admin/users/new", "user-form", new_user_data(site, password="short"))
    assert weak.status_code == 422 and "密码至少需要 10 个字符" in dom(weak.text).by_id("fe-password").text()


def test_pl20_admin_edits_deactivates_and_reactivates_a_user(site: Site) -> None:
    admin = site.client()
    l2 = site.scoped.users["l2"]
    r = post_form(admin, f"/admin/users/{l2}", "user-form", {"roles": ["manager"], "display_name": "李二"})
    assert r.status_code == 303 and r.headers["location"] == f"/admin/users/{l2}"
    assert site.scoped.admin.get_user(l2)["roles"] == ["manager"]
    page = admin.get(f"/admin/users/{l2}")
    assert "已保存用户「李二」" in page.text

    token = csrf_of(page.text)
    assert admin.post(f"/admin/users/{l2}/deactivate", data={"csrf_token": token}).status_code == 303
    assert site.scoped.admin.get_user(l2)["active"] is False
    assert "inactive-alert" in admin.get(f"/admin/users/{l2}").text
    assert admin.post(f"/admin/users/{l2}/activate", data={"csrf_token": token}).status_code == 303
    assert site.scoped.admin.get_user(l2)["active"] is True

    me = site.scoped.users["admin"]
    own = post_form(admin, f"/admin/users/{me}", "user-form", {"active": ["0"]})
    assert own.status_code == 422 and "不能停用自己的账号" in dom(own.text).by_id("fe-active").text()

    reset = admin.post(f"/admin/users/{l2}/password", data={"csrf_token": token})
    password = dom(reset.text).by_id("initial-password").text()
    with httpx.Client(base_url=site.url) as fresh:
        assert sign_in(fresh, "l2", password).status_code == 303
    mine = [o for o in site.operations("permission_change") if o["detail"].get("user_id") == l2 and o["actor_id"]]
    assert [o["detail"]["changed"] for o in mine] == [["password"], ["active"], ["active"], ["roles"]], "changes only"
    assert all(o["username"] == "admin" and o["detail"]["event"] == "user_changed" for o in mine)


# departments -------------------------------------------------------------------------------------
def test_pl20_department_tree_add_rename_move_delete_and_refusals(site: Site) -> None:
    admin = site.client()
    depts = site.scoped.departments
    tree = dom(admin.get("/admin/departments").text).by_id("dept-tree")
    outreach = tree.find("li", data_dept=str(depts["outreach"]))
    assert outreach.find("li", data_dept=str(depts["team_a1"])), "sub-departments are nested inside their parent"

    r = post_form(admin, "/admin/departments", "root-form", {"name": "科研部", "code": "RS"})
    assert r.status_code == 303
    research = next(d for d in site.scoped.admin.list_departments() if d["code"] == "RS")
    assert r.headers["location"] == f"/admin/departments?selected={research['id']}"
    page = f"/admin/departments?selected={research['id']}"
    r = post_form(admin, page, "child-form", {"name": "临床试验组", "code": "RS1"})
    assert r.status_code == 303
    trials = next(d for d in site.scoped.admin.list_departments() if d["code"] == "RS1")
    assert trials["parent_id"] == research["id"]

    duplicate = post_form(admin, page, "child-form", {"name": "重复", "code": "RS1"})
    assert duplicate.status_code == 422
    assert "编码「RS1」已被其他部门使用" in dom(duplicate.text).by_id("fe-child-code").text()

    renamed = post_form(admin, f"/admin/departments?selected={trials['id']}", "edit-form", {"name": "GCP 办公室"})
    assert renamed.status_code == 303 and site.scoped.admin.get_department(trials["id"])["name"] == "GCP 办公室"

    moved = post_form(
        admin, f"/admin/departments?selected={trials['id']}", "move-form", {"parent_id": str(depts["team_b"])}
    )
    assert moved.status_code == 303 and site.scoped.admin.get_department(trials["id"])["parent_id"] == depts["team_b"]

    cycle_page = dom(admin.get(f"/admin/departments?selected={depts['outreach']}").text)
    blocked = cycle_page.by_id("move-parent_id").find("option", value=str(depts["team_a1"]))
    assert "disabled" in blocked.attrs, "the page does not offer a move under its own sub-department"
    cycle = post_form(
        admin, f"/admin/departments?selected={depts['outreach']}", "move-form", {"parent_id": str(depts["team_a1"])}
    )
    assert cycle.status_code == 422
    assert "不能移动到它自己或它的下级部门之下" in dom(cycle.text).by_id("fe-move-parent_id").text()
    assert site.scoped.admin.get_department(depts["outreach"])["parent_id"] is None

    token = csrf_of(cycle.text)
    with_children = admin.post(f"/admin/departments/{depts['team_a']}/delete", data={"csrf_token": token})
    assert with_children.status_code == 409
    assert "1 个下级部门" in dom(with_children.text).by_id("dept-problem").text()
    with_users = admin.post(f"/admin/departments/{depts['branch']}/delete", data={"csrf_token": token})
    assert with_users.status_code == 409 and "名用户属于该部门" in dom(with_users.text).by_id("dept-problem").text()

    gone = admin.post(f"/admin/departments/{trials['id']}/delete", data={"csrf_token": token})
    assert gone.status_code == 303
    assert trials["id"] not in {d["id"] for d in site.scoped.admin.list_departments()}
    events = [
        o["detail"]["event"] for o in site.operations("permission_change") if o["detail"].get("target") == "department"
    ]
    for event in ("department_created", "department_changed", "department_moved", "department_deleted"):
        assert event in events


# roles --------------------------------------------------------------------------------------------
def test_pl20_role_matrix_change_takes_effect_is_logged_and_resets(site: Site) -> None:
    admin = site.client()
    tessera, l1 = site.scoped.tessera, site.scoped.ctx("l1")
    hospital = site.scoped.hospitals["l1"]
    assert tessera.records.get("hospital", hospital, l1)["phone"] != "13812345678", "masked before"
    assert not tessera.permissions.can(l1, "hospital", "export")

    page = dom(admin.get("/admin/roles/liaison").text)
    row = page.by_id("matrix").find("tr", data_entity="hospital")
    read = row.find("td", data_action="read")
    assert "checked" in read.find("input").attrs and read.find("option", selected="").attrs["value"] == "own"
    assert "继承" in page.by_id("matrix").find("tr", data_entity="lead").find("td", data_action="read").text()
    assert page.find("select", name="read.hospital.phone").find("option", selected="").attrs["value"] == "masked"

    r = post_form(
        admin,
        "/admin/roles/liaison",
        "role-form",
        {"grant.hospital.export": "1", "scope.hospital.export": "subtree", "read.hospital.phone": "full"},
    )
    assert r.status_code == 303, r.text
    assert tessera.records.get("hospital", hospital, l1)["phone"] == "13812345678", "now shown in full"
    assert tessera.permissions.can(l1, "hospital", "export")
    with httpx.Client(base_url=site.url) as api:
        login = api.post("/api/v1/auth/login", json={"username": "l1", "password": PASSWORD})
        assert login.status_code == 200
        assert api.get(f"/api/v1/records/hospital/{hospital}").json()["phone"] == "13812345678"
    roles = dom(admin.get("/admin/roles").text).by_id("roles-table").find("tr", data_role="liaison")
    assert roles.find_all("span", data_customised="true"), "the list marks the role as customised"
    logged = [o for o in site.operations("permission_change") if o["detail"].get("role_id") == "liaison"]
    assert logged[0]["detail"]["event"] == "role_changed" and logged[0]["username"] == "admin"
    after = logged[0]["detail"]["after"]["permissions"]
    assert {"entity": "hospital", "actions": ["export"], "scope": "subtree"}.items() <= next(
        p for p in after if p["scope"] == "subtree"
    ).items()

    token = csrf_of(r.text) if "csrf_token" in r.text else csrf_of(admin.get("/admin/roles/liaison").text)
    assert admin.post("/admin/roles/liaison/reset", data={"csrf_token": token}).status_code == 303
    assert tessera.records.get("hospital", hospital, l1)["phone"] != "13812345678", "masked again"
    assert not tessera.permissions.can(l1, "hospital", "export")
    assert "customised-badge" not in admin.get("/admin/roles/liaison").text
    assert site.operations("permission_change")[0]["detail"]["event"] == "role_reset"


def test_pl20_saving_every_role_unchanged_keeps_what_it_allows(site: Site) -> None:
    """The matrix rewrites a role's entries in its own shape; what each role allows must stay the same."""
    admin = site.client()
    registry = site.scoped.tessera.registry

    def rights(role_id: str) -> dict[str, object]:
        role = registry.roles[role_id]
        return {e.id: entity_access(role.grants, e) for e in registry.entities.values()}

    for role_id in sorted(registry.roles):
        before = rights(role_id)
        assert post_form(admin, f"/admin/roles/{role_id}", "role-form", {}).status_code == 303, role_id
        assert rights(role_id) == before, role_id


def test_pl20_admin_creates_and_deletes_a_custom_role(site: Site) -> None:
    admin = site.client()
    bad = post_form(admin, "/admin/roles/new", "role-new-form", {"id": "Night Nurse", "label_zh": ""})
    assert bad.status_code == 422
    page = dom(bad.text)
    assert "只能使用小写字母" in page.by_id("fe-id").text() and "请填写角色名称" in page.by_id("fe-label").text()
    taken = post_form(admin, "/admin/roles/new", "role-new-form", {"id": "liaison", "label_zh": "重复"})
    assert taken.status_code == 422 and "已存在" in dom(taken.text).by_id("fe-id").text()

    r = post_form(
        admin, "/admin/roles/new", "role-new-form", {"id": "night_nurse", "label_zh": "夜班护士", "parent": "staff"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/roles/night_nurse"
    role = site.scoped.tessera.registry.roles["night_nurse"]
    assert role.parent == "staff" and role.pack_id is None
    r = post_form(
        admin, "/admin/roles/night_nurse", "role-form", {"grant.lead.read": "1", "scope.lead.read": "department"}
    )
    assert r.status_code == 303
    assert site.scoped.tessera.registry.roles["night_nurse"].permissions == (
        {"entity": "lead", "actions": ["read"], "scope": "department"},
    )

    shipped = dom(admin.get("/admin/roles/liaison").text)
    assert not shipped.find_all(id="delete-role"), "shipped roles offer reset, not delete"
    token = csrf_of(r.text) if "csrf_token" in r.text else csrf_of(admin.get("/admin/roles").text)
    refused = admin.post("/admin/roles/staff/delete", data={"csrf_token": token})
    assert refused.status_code == 409 and "由应用包 scoped_crm 提供" in dom(refused.text).by_id("role-problem").text()
    assert admin.post("/admin/roles/night_nurse/delete", data={"csrf_token": token}).status_code == 303
    assert "night_nurse" not in site.scoped.tessera.registry.roles
    events = [
        o["detail"]["event"]
        for o in site.operations("permission_change")
        if o["detail"].get("role_id") == "night_nurse"
    ]
    assert events == ["role_deleted", "role_changed", "role_created"]


# import -------------------------------------------------------------------------------------------
def upload(client: httpx.Client, name: str, content: bytes, kind: str = "users") -> httpx.Response:
    token = csrf_of(client.get("/admin/users/import").text)
    return client.post("/admin/users/import", data={"csrf_token": token, "kind": kind}, files={"file": (name, content)})


def test_pl20_admin_imports_users_with_preview(site: Site) -> None:
    admin = site.client()
    template = admin.get("/admin/users/import/template.xlsx")
    assert template.status_code == 200 and "attachment" in template.headers["content-disposition"]
    book = load_workbook(io.BytesIO(template.content))
    assert book.sheetnames == ["部门", "用户"]
    assert [c.value for c in book["用户"][1]][:3] == ["账号", "姓名", "部门编码"]

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["账号", "姓名", "部门编码", "手机", "角色"])
    writer.writerow(["zhao.yi", "赵一", "TA", "13800001111", "liaison"])
    writer.writerow(["qian.er", "钱二", "NOPE", "12345", "liaison"])
    before = user_count(site)
    r = upload(admin, "people.csv", text.getvalue().encode("utf-8"))
    assert r.status_code == 200
    page = dom(r.text)
    assert page.find("tr", data_row="2").attrs["data-action"] == "create"
    bad = page.find("tr", data_row="3")
    assert bad.attrs["data-action"] == "error"
    assert "部门编码：没有使用该编码的部门" in bad.text() and "手机：不是有效的电话号码" in bad.text()
    assert "不能导入" in page.by_id("import-blocked").text() and not page.find_all(id="confirm-form")
    assert user_count(site) == before, "a preview writes nothing"

    book = load_workbook(io.BytesIO(template.content))
    book["部门"].append(["RS", "科研部", "", "First Hospital", 5])
    book["用户"].append(["zhao.yi", "赵一", "RS", "", "13800001111", "", "liaison", "in_app,sms", "是", ""])
    book["用户"].append(["l1", "", "", "", "13900002222", "", "", "", "", ""])
    clean = io.BytesIO()
    book.save(clean)
    r = upload(admin, "people.xlsx", clean.getvalue())
    page = dom(r.text)
    assert page.find("tr", data_row="2").attrs["data-action"] == "create"
    assert page.by_id("rows-users").find("tr", data_row="3").attrs["data-action"] == "update"
    assert site.scoped.tessera.users.by_username("zhao.yi") is None, "still nothing written"
    assert not site.operations("import")
    confirm = page.by_id("confirm-form")
    done = admin.post("/admin/users/import/confirm", data=form_data(confirm))
    assert done.status_code == 200 and dom(done.text).by_id("import-done")
    user = site.scoped.tessera.users.by_username("zhao.yi")
    assert user is not None and site.scoped.admin.get_user(user.id)["department"] == "科研部"
    assert site.scoped.admin.get_user(site.scoped.users["l1"])["phone"] == "13900002222"
    logged = site.operations("import")
    assert len(logged) == 1 and logged[0]["detail"]["committed"] is True and logged[0]["username"] == "admin"
    assert logged[0]["detail"]["users"]["create"] == 1

    tampered = {**form_data(confirm), "sha256": ["0" * 64]}
    assert admin.post("/admin/users/import/confirm", data=tampered).status_code == 400
    not_a_sheet = upload(admin, "people.txt", b"hello")
    assert not_a_sheet.status_code == 422 and "无法读取文件" in dom(not_a_sheet.text).by_id("fe-file").text()


# access -------------------------------------------------------------------------------------------
PAGES = [
    "/admin/users",
    "/admin/users/new",
    "/admin/users/{l1}",
    "/admin/users/import",
    "/admin/users/import/template.xlsx",
    "/admin/departments",
    "/admin/roles",
    "/admin/roles/new",
    "/admin/roles/liaison",
]
POSTS = [
    "/admin/users/new",
    "/admin/users/{l1}",
    "/admin/users/{l1}/deactivate",
    "/admin/users/{l1}/password",
    "/admin/users/import",
    "/admin/departments/new",
    "/admin/departments/{dept}/delete",
    "/admin/roles/liaison",
    "/admin/roles/liaison/reset",
]


def test_pl20_people_pages_are_for_administrators_only(site: Site) -> None:
    ids = {"l1": site.scoped.users["l1"], "dept": site.scoped.departments["team_b"]}
    nobody = site.client("nobody")
    token = csrf_of(nobody.get("/").text)
    for path in PAGES:
        r = nobody.get(path.format(**ids))
        assert r.status_code == 403 and "Request refused" in r.text, path  # nobody reads English
    for path in POSTS:
        r = nobody.post(path.format(**ids), data={"csrf_token": token, "name": "x", "username": "x"})
        assert r.status_code == 403, path
    assert site.scoped.admin.get_user(ids["l1"])["active"] is True, "nothing changed"

    with httpx.Client(base_url=site.url) as anonymous:
        for path in PAGES:
            r = anonymous.get(path.format(**ids))
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path

    boss = site.client("boss")  # no administrator flag, but a role with the 'admin' right
    for path in PAGES:
        assert boss.get(path.format(**ids)).status_code == 200, path


# browser ----------------------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl20_admin_creates_a_user_in_chromium(site: Site, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed at /usr/bin/chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
        page.set_default_timeout(10_000)
        page.goto(site.url + "/admin/users")
        page.fill("#username", "admin")
        page.fill("#password", ADMIN_PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(site.url + "/admin/users")
        page.click("#new-user")
        page.fill("#f-username", "sun.san")
        page.fill("#f-display_name", "孙三")
        page.fill("#f-email", "sun-at-example")
        page.select_option("#f-department_id", str(site.scoped.departments["team_a1"]))
        page.check("#f-role-manager")
        page.click("#save")
        sync_api.expect(page.locator("#fe-email")).to_contain_text("不是有效的邮箱地址")
        sync_api.expect(page.locator("#f-role-manager")).to_be_checked()
        page.fill("#f-email", "sun@example.com")
        page.click("#save")
        sync_api.expect(page.locator("#initial-password")).to_be_visible()
        page.click("#open-user")
        sync_api.expect(page.locator("#f-department_id")).to_have_value(str(site.scoped.departments["team_a1"]))
        page.goto(site.url + "/admin/users?q=sun")
        sync_api.expect(page.locator('tr[data-user="sun.san"]')).to_contain_text("经理")
        browser.close()
    user = site.scoped.tessera.users.by_username("sun.san")
    assert user is not None and site.scoped.admin.get_user(user.id)["roles"] == ["manager"]
