"""PL-21 / PL-22 in the browser: the administration hub, the audit, operation and error log viewers,
the settings page with module switches, and the history section of a record page.

Real HTTP against a live uvicorn (SQLite and PostgreSQL through the ``tessera`` fixture); pages are
parsed with tests/support/html.py. The last test opens a record's history in Chromium.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

import ui.app
from runtime import oplog
from runtime.api import create_app
from runtime.records import Context
from runtime.services import Tessera
from tests.support.html import Node, csrf_of, dom, sign_in
from tests.support.people import PASSWORD as STAFF_PASSWORD
from tests.support.people import Scoped, scoped_fixture  # noqa: F401 - the scoped_crm people fixture
from tests.support.server import live_server

NURSE_PASSWORD = "Nurse-pass-for-ui-tests-1"
ADMIN_PAGES = ["/admin", "/admin/audit", "/admin/oplog", "/admin/errors", "/admin/errors/1", "/admin/settings"]


# fixtures -----------------------------------------------------------------------------------------
def ui_app(tessera: Tessera) -> FastAPI:
    app = create_app(tessera, extensions=[ui.app.install])

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:  # a page of this test only, that fails like a bug would
        raise RuntimeError("secret internal detail of the failing page")

    return app


@pytest.fixture
def ui_url(tessera: Tessera) -> Iterator[str]:
    tessera.users.create("nurse", "护士小王", NURSE_PASSWORD)
    with live_server(ui_app(tessera)) as url:
        yield url


@contextmanager
def client_for(url: str, username: str = "admin", password: str | None = None) -> Iterator[httpx.Client]:
    """Signed in (Chinese UI), following no redirects so tests can check them."""
    with httpx.Client(base_url=url, timeout=30, headers={"Accept-Language": "zh-CN"}) as client:
        r = sign_in(client, username, password) if password else sign_in(client, username)
        assert r.status_code == 303, r.text
        yield client


@pytest.fixture
def admin(ui_url: str) -> Iterator[httpx.Client]:
    with client_for(ui_url) as client:
        yield client


@pytest.fixture
def nurse(ui_url: str) -> Iterator[httpx.Client]:
    with client_for(ui_url, "nurse", NURSE_PASSWORD) as client:
        yield client


@pytest.fixture
def ctx(tessera: Tessera) -> Context:
    admin = tessera.users.by_username("admin")
    assert admin is not None
    return Context(user_id=admin.id, channel="ui", is_admin=True, lang="zh")


def entry(page: Node, record_id: int, action: str) -> Node:
    found = [
        a
        for a in page.find_all("article", class_="card tf-log-entry")
        if a.attrs["data-record"] == str(record_id) and a.attrs["data-action"] == action
    ]
    assert found, f"no {action} entry for record {record_id}"
    return found[0]


def diff_cells(node: Node, field: str) -> tuple[str, str]:
    row = node.find("tr", data_field=field)
    return row.find("td", data_side="old").text().strip(), row.find("td", data_side="new").text().strip()


def sidebar(client: httpx.Client) -> str:
    return dom(client.get("/admin").text).by_id("sidebar").text()


def edit_via_form(client: httpx.Client, record_id: int, data: dict[str, str]) -> httpx.Response:
    url = f"/r/specimen/{record_id}/edit?form=specimen_form"
    token = csrf_of(client.get(url).text)
    return client.post(url, data={"csrf_token": token, **data})


# audit trail --------------------------------------------------------------------------------------
def test_pl21_form_edit_shows_exact_before_and_after_in_audit_viewer_and_record_history(
    tessera: Tessera, ctx: Context, admin: httpx.Client
) -> None:
    record = tessera.records.create("specimen", {"title": "协和医院", "beds": 100, "level": "3A"}, ctx)
    rid = record["id"]
    saved = edit_via_form(admin, rid, {"version": "1", "title": "协和医院", "beds": "150", "level": "2A"})
    assert saved.status_code == 303, saved.text

    page = dom(admin.get("/admin/audit").text)
    update = entry(page, rid, "update")
    assert diff_cells(update, "beds") == ("100", "150")
    assert diff_cells(update, "level") == ("三级甲等", "二级甲等"), "option labels, not stored codes"
    head = update.find("div", class_="card-header tf-log-head")
    assert "Admin" in head.text() and "界面" in head.text(), "who and through which channel"
    assert head.find("a", class_="tf-log-record").attrs["href"] == f"/r/specimen/{rid}"
    assert "协和医院" in head.text() and "2026-11-23 17:30:00" in head.text(), "the clock's 09:30 UTC, local"
    assert head.find("a", class_="tf-log-request text-reset").text().strip().startswith("请求 ")
    created = entry(page, rid, "create")
    assert created.find("tr", data_field="beds").find("td", data_side="new").text().strip() == "100"
    assert not created.find_all("td", data_side="old"), "a create has no 'before' column"

    detail = dom(admin.get(f"/r/specimen/{rid}").text)
    slot = detail.by_id("record-history-body")
    assert slot.attrs["hx-get"] == f"/r/specimen/{rid}/history" and "intersect" in slot.attrs["hx-trigger"]
    history = admin.get(f"/r/specimen/{rid}/history", headers={"HX-Request": "true"})
    assert history.status_code == 200 and "<html" not in history.text
    items = dom(history.text).find_all("li", class_="tf-history-item")
    assert [i.attrs["data-action"] for i in items] == ["update", "create"], "newest first"
    assert diff_cells(items[0], "beds") == ("100", "150")
    assert "Admin" in items[0].text() and "界面" in items[0].text()


def test_pl21_sensitive_values_are_masked_in_viewer_and_history(
    tessera: Tessera, ctx: Context, admin: httpx.Client
) -> None:
    rid = tessera.records.create("specimen", {"title": "A", "phone": "13800138000"}, ctx)["id"]
    tessera.records.update("specimen", rid, {"phone": "13900139000"}, ctx, expected_version=1)
    for html in (admin.get("/admin/audit").text, admin.get(f"/r/specimen/{rid}/history").text):
        assert "13800138000" not in html and "13900139000" not in html
        assert "138****" not in html, "not even a masked form of an encrypted value"
        row = dom(html).find("tr", data_field="phone")
        assert row.attrs["data-sealed"] == "true" and "已加密，不显示" in row.text()

    def hide_phone(entity: object, ctx: object, record: dict) -> dict:  # a reader who may not see the phone
        return {k: v for k, v in record.items() if k != "phone"}

    tessera.hooks.read_transform.append(hide_phone)
    try:
        hidden = admin.get(f"/r/specimen/{rid}/history").text
    finally:
        tessera.hooks.read_transform.remove(hide_phone)
    assert not dom(hidden).find_all("tr", data_field="phone"), "not even that a hidden field changed"


def test_pl21_audit_filters_narrow_the_list_and_bad_filters_are_explained(
    tessera: Tessera, ctx: Context, admin: httpx.Client
) -> None:
    nurse = tessera.users.by_username("nurse")
    assert nurse is not None
    office = tessera.records.create("region_office", {"name": "华东"}, Context(channel="system", is_admin=True))
    mine = tessera.records.create("specimen", {"title": "A"}, ctx)
    theirs = tessera.records.create("specimen", {"title": "B"}, Context(user_id=nurse.id, channel="api", is_admin=True))
    tessera.records.update("specimen", mine["id"], {"beds": 3}, ctx, expected_version=1)

    def shown(**params: str) -> list[tuple[str, str, str]]:
        r = admin.get("/admin/audit", params=params)
        assert r.status_code == 200, r.text
        return [
            (a.attrs["data-entity"], a.attrs["data-record"], a.attrs["data-action"])
            for a in dom(r.text).find_all("article", class_="card tf-log-entry")
        ]

    everything = shown()
    assert len(everything) == 4
    assert shown(entity="region_office") == [("region_office", str(office["id"]), "create")]
    assert shown(action="update") == [("specimen", str(mine["id"]), "update")]
    assert shown(actor="nurse") == [("specimen", str(theirs["id"]), "create")]
    assert shown(channel="system") == [("region_office", str(office["id"]), "create")]
    assert shown(record_id=str(mine["id"]), entity="specimen") == [
        ("specimen", str(mine["id"]), "update"),
        ("specimen", str(mine["id"]), "create"),
    ]
    assert shown(since="2026-11-23", until="2026-11-23") == everything, "the clock's day, in local time"
    assert shown(since="2026-11-24") == []

    bad = dom(admin.get("/admin/audit", params={"actor": "ghost", "record_id": "x1", "since": "tomorrow"}).text)
    assert "没有用户名为“ghost”的用户" in bad.by_id("fe-actor").text()
    assert "正整数" in bad.by_id("fe-record_id").text() and "有效日期" in bad.by_id("fe-since").text()
    assert bad.by_id("flt-actor").attrs["value"] == "ghost", "what was typed stays in the input"
    assert not bad.find_all("article", class_="card tf-log-entry")


def test_pl21_audit_viewer_pages_back_with_older_entries(tessera: Tessera, admin: httpx.Client) -> None:
    system = Context(channel="system", is_admin=True)
    for i in range(33):
        tessera.records.create("region_office", {"name": f"办事处{i:02d}"}, system)
    first = dom(admin.get("/admin/audit", params={"entity": "region_office"}).text)
    names = [a.find(class_="tf-log-record").text() for a in first.find_all("article", class_="card tf-log-entry")]
    assert len(names) == 30 and names[0] == "办事处32"
    older = first.by_id("older-page").attrs["href"]
    assert "entity=region_office" in older and "before_id=" in older
    rest = dom(admin.get(older).text)
    tail = [a.find(class_="tf-log-record").text() for a in rest.find_all("article", class_="card tf-log-entry")]
    assert tail == ["办事处02", "办事处01", "办事处00"]
    assert not rest.find_all(id="older-page") and rest.by_id("newest-page")


# record history permissions -----------------------------------------------------------------------
def test_pl21_record_history_follows_the_readers_field_masking_and_scope(scoped: Scoped) -> None:
    t = scoped.tessera
    own, other = scoped.hospitals["l1"], scoped.hospitals["l2"]
    boss = Context(channel="ui", is_admin=True, lang="zh")
    t.records.update(
        "hospital",
        own,
        {"email": "new.mail@example.com", "internal_rating": 9, "city": "Suzhou"},
        boss,
        expected_version=1,
    )
    with live_server(ui_app(t)) as url:
        with client_for(url, "l1", STAFF_PASSWORD) as l1:
            history = l1.get(f"/r/hospital/{own}/history")
            assert history.status_code == 200, history.text
            latest = dom(history.text).find("li", class_="tf-history-item")
            assert diff_cells(latest, "city") == ("Hangzhou", "Suzhou")
            email = latest.find("tr", data_field="email")
            assert email.attrs["data-masked"] == "true"
            assert diff_cells(latest, "email") == ("l***@example.com", "n***@example.com")
            assert "l1.contact@example.com" not in history.text and "new.mail" not in history.text
            assert not latest.find_all("tr", data_field="internal_rating"), "a field the liaison may not see"
            assert l1.get(f"/r/hospital/{other}/history").status_code == 404, "outside the liaison's scope"
            assert l1.get(f"/r/hospital/{own}/history?before_id=x").status_code == 200
            assert l1.get("/admin/audit").status_code == 403
        with client_for(url, "nobody", STAFF_PASSWORD) as nobody:
            assert nobody.get(f"/r/hospital/{own}/history").status_code == 403, "no right to read hospitals"
        with client_for(url, "admin", "Adm1n-pass-for-tests") as admin:
            full = dom(admin.get(f"/r/hospital/{own}/history").text).find("li", class_="tf-history-item")
            assert diff_cells(full, "email") == ("l1.contact@example.com", "new.mail@example.com")
            assert diff_cells(full, "internal_rating") == ("7", "9")
        with httpx.Client(base_url=url) as anonymous:
            r = anonymous.get(f"/r/hospital/{own}/history")
            assert r.status_code == 303 and r.headers["location"].startswith("/login")


# operation log ------------------------------------------------------------------------------------
def test_pl21_failed_login_and_setting_changes_appear_in_operation_log(
    tessera: Tessera, ui_url: str, admin: httpx.Client
) -> None:
    with httpx.Client(base_url=ui_url) as stranger:
        assert sign_in(stranger, "admin", "wrong-password").status_code == 401
        assert sign_in(stranger, "mallory", "guess").status_code == 401
    oplog.record_operation(
        tessera.db,
        "permission_change",
        actor_id=1,
        username="admin",
        detail={"role": "liaison"},
        at=tessera.clock.now(),
    )

    failed = dom(admin.get("/admin/oplog", params={"kind": "login_failed"}).text)
    items = failed.find_all("li", class_="list-group-item tf-op")
    assert [i.attrs["data-kind"] for i in items] == ["login_failed", "login_failed"]
    assert items[0].find("span", class_="fw-semibold small tf-op-user").text() == "mallory"
    assert "用户名不存在" in items[0].text() and "密码错误" in items[1].text()
    assert "127.0.0.1" in items[1].text()
    assert dom(admin.get("/admin/oplog", params={"user": "mallory"}).text).find_all("li", data_kind="login_failed")

    page = admin.get("/admin/settings")
    r = admin.post("/admin/settings/params/login.max_failures", data={"csrf_token": csrf_of(page.text), "value": "8"})
    assert r.status_code == 303
    changes = dom(admin.get("/admin/oplog", params={"kind": "param_change"}).text)
    change = changes.find("li", data_kind="param_change")
    assert "锁定前允许的连续登录失败次数" in change.text() and "5 → 8" in change.text()
    perm = dom(admin.get("/admin/oplog", params={"kind": "permission_change"}).text).find(
        "li", data_kind="permission_change"
    )
    assert "角色" in perm.text() and "liaison" in perm.text()
    assert "有效日期" in admin.get("/admin/oplog", params={"until": "2026-13-01"}).text


# error log ----------------------------------------------------------------------------------------
def test_pl21_request_id_from_the_error_page_finds_the_error_and_its_traceback(
    ui_url: str, admin: httpx.Client, nurse: httpx.Client
) -> None:
    failed = nurse.get("/boom")
    assert failed.status_code == 500 and "secret internal detail" not in failed.text
    request_id = dom(failed.text).by_id("request-id").text().strip()
    assert request_id

    found = dom(admin.get("/admin/errors", params={"request_id": f"  {request_id} "}).text)
    rows = found.find_all("a", class_="list-group-item list-group-item-action tf-error-row")
    assert [r.attrs["data-request-id"] for r in rows] == [request_id]
    assert "RuntimeError" in rows[0].text() and "GET /boom" in rows[0].text() and "护士小王" in rows[0].text()
    detail_url = rows[0].attrs["href"]
    detail = admin.get(detail_url)
    page = dom(detail.text)
    assert page.by_id("error-request-id").text() == request_id
    assert "Traceback (most recent call last)" in page.by_id("traceback").text()
    assert "secret internal detail of the failing page" in page.by_id("traceback").text()
    assert "护士小王" in page.by_id("error-user").text()

    refused = nurse.get(detail_url)
    assert refused.status_code == 403 and "Traceback" not in refused.text
    missing = dom(admin.get("/admin/errors", params={"request_id": "no-such-id"}).text)
    assert "no-such-id" in missing.by_id("request-not-found").text()
    assert admin.get("/admin/errors/999999").status_code == 404
    assert admin.get("/admin/errors/abc").status_code == 404
    assert (
        len(dom(admin.get("/admin/errors", params={"path": "/boom"}).text).find_all("a", data_request_id=request_id))
        == 1
    )


# settings and module switches ---------------------------------------------------------------------
def test_pl22_bad_parameter_value_gives_inline_error_and_changes_nothing(tessera: Tessera, admin: httpx.Client) -> None:
    token = csrf_of(admin.get("/admin/settings").text)
    url = "/admin/settings/params/login.max_failures"
    for typed, message in (("abc", "必须是整数"), ("0", "至少 1"), ("5.5", "必须是整数"), ("", "必须是整数")):
        r = admin.post(url, data={"csrf_token": token, "value": typed})
        assert r.status_code == 422, typed
        page = dom(r.text)
        assert message in page.by_id("fe-login-max_failures").text(), typed
        assert page.by_id("in-login-max_failures").attrs["value"] == typed, "the typed value stays"
        assert "未保存" in page.by_id("settings-problem").text()
    assert tessera.params.get("login.max_failures") == 5
    assert oplog.query_operations(tessera.db, oplog.OpFilter(kind="param_change")) == []

    long_name = admin.post("/admin/settings/params/site.name", data={"csrf_token": token, "value": "x" * 101})
    assert "至多 100个字符" in dom(long_name.text).by_id("fe-site-name").text()
    assert admin.post(url, data={"csrf_token": token, "value": "12"}).status_code == 303
    assert tessera.params.get("login.max_failures") == 12
    shown = dom(admin.get("/admin/settings").text).by_id("param-login.max_failures")
    assert shown.find("input", name="value").attrs["value"] == "12" and "默认值：5" in shown.text()
    assert admin.post(url + "/reset", data={"csrf_token": token}).status_code == 303
    assert tessera.params.get("login.max_failures") == 5
    logged = [e["detail"] for e in oplog.query_operations(tessera.db, oplog.OpFilter(kind="param_change"))]
    assert logged == [{"params": {"login.max_failures": [12, 5]}}, {"params": {"login.max_failures": [5, 12]}}]
    assert admin.post("/admin/settings/params/no.such", data={"csrf_token": token, "value": "1"}).status_code == 404


def test_pl22_module_switch_hides_menus_and_api_then_brings_them_back(tessera: Tessera, admin: httpx.Client) -> None:
    page = dom(admin.get("/admin/settings").text)
    module = page.by_id("module-all_fields")
    assert module.attrs["data-enabled"] == "true"
    assert "返回 404" in page.by_id("module-help").text(), "the consequence is explained"
    assert "样本列表" in sidebar(admin)
    assert admin.get("/api/v1/records/specimen").status_code == 200

    token = csrf_of(admin.get("/admin/settings").text)
    off = admin.post("/admin/settings/modules/all_fields", data={"csrf_token": token, "enabled": "false"})
    assert off.status_code == 303
    assert dom(admin.get("/admin/settings").text).by_id("module-all_fields").attrs["data-enabled"] == "false"
    assert "样本列表" not in sidebar(admin), "its menus are gone"
    assert admin.get("/api/v1/records/specimen").status_code == 404

    on = admin.post("/admin/settings/modules/all_fields", data={"csrf_token": token, "enabled": "true"})
    assert on.status_code == 303
    assert "样本列表" in sidebar(admin)
    assert admin.get("/api/v1/records/specimen").status_code == 200
    switches = [e["detail"] for e in oplog.query_operations(tessera.db, oplog.OpFilter(kind="param_change"))]
    assert switches == [
        {"module": "all_fields", "enabled": [False, True]},
        {"module": "all_fields", "enabled": [True, False]},
    ]
    assert (
        admin.post("/admin/settings/modules/ghost", data={"csrf_token": token, "enabled": "false"}).status_code == 404
    )


# access -------------------------------------------------------------------------------------------
def test_pl21_admin_pages_refuse_non_admins_and_send_visitors_to_login(
    tessera: Tessera, ui_url: str, nurse: httpx.Client
) -> None:
    with httpx.Client(base_url=ui_url) as anonymous:
        for path in ADMIN_PAGES:
            r = anonymous.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    for path in ADMIN_PAGES:
        r = nurse.get(path)
        assert r.status_code == 403 and "只有系统管理员" in r.text, path
    token = csrf_of(nurse.get("/").text)
    r = nurse.post("/admin/settings/params/site.name", data={"csrf_token": token, "value": "夺权"})
    assert r.status_code == 403
    r = nurse.post("/admin/settings/modules/all_fields", data={"csrf_token": token, "enabled": "false"})
    assert r.status_code == 403
    assert tessera.params.get("site.name") == "Tessera" and tessera.params.module_enabled("all_fields")


def test_pl21_admin_hub_links_every_administration_page(admin: httpx.Client) -> None:
    page = dom(admin.get("/admin").text)
    links = {a.attrs["id"]: a.attrs["href"] for a in page.find_all("a", class_="tf-tile card h-100")}
    assert links == {
        "tile-users": "/admin/users",
        "tile-departments": "/admin/departments",
        "tile-roles": "/admin/roles",
        "tile-import": "/admin/users/import",
        "tile-audit": "/admin/audit",
        "tile-oplog": "/admin/oplog",
        "tile-errors": "/admin/errors",
        "tile-his": "/admin/his",  # the HIS message log (ui/routes/admin_his.py)
        "tile-settings": "/admin/settings",
        "tile-jobs": "/admin/jobs",
        "tile-rules": "/admin/rules",
        "tile-templates": "/admin/templates",
        "tile-deliveries": "/admin/deliveries",
        "tile-tokens": "/account/tokens",
    }
    assert "审计日志" in page.by_id("tile-audit").text() and "前后值" in page.by_id("tile-audit").text()


def test_pl22_admin_pages_speak_chinese_and_english_without_raw_message_keys(
    tessera: Tessera, ctx: Context, admin: httpx.Client
) -> None:
    rid = tessera.records.create("specimen", {"title": "A", "beds": 1}, ctx)["id"]
    pages = ["/admin", "/admin/audit", "/admin/oplog", "/admin/errors", "/admin/settings", f"/r/specimen/{rid}/history"]
    titles = {"zh": "审计日志", "en": "Audit trail"}
    for lang in ("zh", "en"):
        assert admin.get(f"/lang/{lang}?next=/").status_code == 303
        for path in pages:
            r = admin.get(path)
            assert r.status_code == 200, path
            assert not re.search(r"\blogs\.[a-z]", dom(r.text).text()), f"a message key shows on {path} ({lang})"
        assert titles[lang] in admin.get("/admin/audit").text


# browser ------------------------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl21_browser_opens_a_record_and_sees_its_change_in_the_history(
    tessera: Tessera, ctx: Context, ui_url: str
) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed at /usr/bin/chromium")
        pytest.skip("Chromium is not installed at /usr/bin/chromium (make test installs it)")
    rid = tessera.records.create("specimen", {"title": "第一人民医院", "beds": 300}, ctx)["id"]
    tessera.records.update("specimen", rid, {"beds": 450}, ctx, expected_version=1)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
            page.goto(ui_url + "/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "Adm1n-pass-for-tests")
            page.locator("form button[type=submit]").click()
            page.wait_for_url(ui_url + "/")
            page.goto(f"{ui_url}/r/specimen/{rid}")
            expect = playwright_api.expect
            expect(page.locator("#record-title")).to_have_text("第一人民医院")
            page.locator("#record-history").scroll_into_view_if_needed()
            change = page.locator("#record-history .tf-history-item").first
            expect(change).to_be_visible()
            expect(change.locator("tr[data-field=beds] td[data-side=old]")).to_have_text("300")
            expect(change.locator("tr[data-field=beds] td[data-side=new]")).to_have_text("450")
            expect(change).to_contain_text("修改")
        finally:
            browser.close()
