"""PL-20: people administration over real HTTP (SQLite and PostgreSQL): users, the department tree,
roles, and importing users and departments from an xlsx workbook or a CSV file."""

from __future__ import annotations

import io

from openpyxl import Workbook

from tests.support.people import PASSWORD, People, people_fixture, scoped_fixture  # noqa: F401

U = "/api/v1/admin/users"
D = "/api/v1/admin/departments"
R = "/api/v1/admin/roles"


def field_errors(response) -> dict[str, str]:  # noqa: ANN001 - an httpx response
    assert response.status_code == 422, response.text
    return {e["field"]: e["message"] for e in response.json()["error"]["errors"]}


# users ----------------------------------------------------------------------------------------------
def test_pl20_admin_creates_a_user_who_then_works_within_the_role(people: People) -> None:
    admin = people.client("admin")
    r = admin.post(
        U,
        json={
            "username": "wang.li",
            "display_name": "王丽",
            "password": PASSWORD,
            "department_id": people.departments["team_b"],
            "phone": "13812340000",
            "email": "wang.li@example.com",
            "notify_channels": ["in_app", "sms"],
            "roles": ["liaison"],
        },
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["roles"] == ["liaison"] and user["department"] == "Team B" and user["active"] is True
    assert "password" not in user and "password_hash" not in user
    assert admin.get(f"{U}/{user['id']}").json()["notify_channels"] == ["in_app", "sms"]
    assert "wang.li" in {u["username"] for u in admin.get(U, params={"q": "wang"}).json()["items"]}
    wang = people.client("wang.li")
    assert wang.get("/api/v1/records/hospital").json()["items"] == [], "a new liaison owns no hospital yet"
    assert wang.post("/api/v1/records/hospital", json={"name": "Wang's partner"}).status_code == 201
    # a manager role given later widens the scope at once (no sign-out needed)
    assert admin.put(f"{U}/{user['id']}/roles", json={"roles": ["manager"]}).status_code == 200
    seen = {i["name"] for i in wang.get("/api/v1/records/hospital").json()["items"]}
    assert seen == {"Wang's partner", "Hospital of L2"}


def test_pl20_user_validation_names_each_field(people: People) -> None:
    admin = people.client("admin")
    errors = field_errors(
        admin.post(
            U,
            json={
                "username": "no spaces allowed",
                "display_name": "",
                "password": "short",
                "department_id": 999999,
                "phone": "12345",
                "email": "not-an-email",
                "notify_channels": ["pigeon"],
                "roles": ["ghost"],
                "colour": "red",
            },
        )
    )
    assert set(errors) == {
        "username",
        "display_name",
        "password",
        "department_id",
        "phone",
        "email",
        "notify_channels",
        "roles",
        "colour",
    }
    assert errors["roles"] == "unknown role ghost"
    assert errors["department_id"] == "the department #999999 does not exist"
    errors = field_errors(admin.post(U, json={"username": "l1", "display_name": "Again"}))
    assert errors == {"username": "the username 'l1' is already used"}


def test_pl20_only_administrators_manage_people(people: People) -> None:
    for who in ("mgr", "l1", "nobody"):
        client = people.client(who)
        assert client.get(U).status_code == 403
        assert client.post(D, json={"name": "Mine"}).status_code == 403
        assert client.get(R).status_code == 403
    boss = people.client("boss")  # the administrator role carries the 'admin' right
    assert boss.get(U).status_code == 200
    r = boss.patch(f"{U}/{people.users['l1']}", json={"is_admin": True})
    assert field_errors(r) == {"is_admin": "only administrators may grant or revoke administrator rights"}


def test_pl20_deactivated_user_is_signed_out_and_cannot_sign_in(people: People) -> None:
    admin, l1 = people.client("admin"), people.client("l1")
    assert l1.get("/api/v1/records/hospital").status_code == 200
    r = admin.delete(f"{U}/{people.users['l1']}")
    assert r.status_code == 200 and r.json()["active"] is False
    assert l1.get("/api/v1/records/hospital").status_code == 401
    login = l1.post("/api/v1/auth/login", json={"username": "l1", "password": PASSWORD})
    assert login.status_code == 401
    errors = field_errors(admin.delete(f"{U}/{people.users['admin']}"))
    assert errors == {"active": "you cannot deactivate your own account"}
    assert admin.get(f"{U}/{people.users['l1']}").json()["active"] is False
    assert admin.get(f"{U}/abc").status_code == 404 and admin.get(f"{U}/999999").status_code == 404


# departments ----------------------------------------------------------------------------------------
def test_pl20_department_tree_moves_refuse_cycles(people: People) -> None:
    admin = people.client("admin")
    a = admin.post(D, json={"name": "Nursing", "code": "NUR", "organisation": "First Hospital"}).json()
    b = admin.post(D, json={"name": "Ward 1", "code": "W1", "parent_id": a["id"]}).json()
    c = admin.post(D, json={"name": "Ward 1 night", "parent_id": b["id"]}).json()
    for new_parent in (a["id"], c["id"]):
        errors = field_errors(admin.patch(f"{D}/{a['id']}", json={"parent_id": new_parent}))
        assert "cycle" in errors["parent_id"]
    assert field_errors(admin.patch(f"{D}/{b['id']}", json={"parent_id": 999999})) == {
        "parent_id": "the department #999999 does not exist"
    }
    assert field_errors(admin.post(D, json={"name": "Dup", "code": "NUR"}))["code"].startswith("the code 'NUR'")
    # a legal move: ward 1 (with its night shift) goes under Team A
    moved = admin.patch(f"{D}/{b['id']}", json={"parent_id": people.departments["team_a"]})
    assert moved.status_code == 200 and moved.json()["parent_id"] == people.departments["team_a"]
    tree = admin.get(D, params={"tree": "true"}).json()
    outreach = next(n for n in tree if n["name"] == "Outreach")
    team_a = next(n for n in outreach["children"] if n["name"] == "Team A")
    assert {n["name"] for n in team_a["children"]} == {"Team A-1", "Ward 1"}
    ward = next(n for n in team_a["children"] if n["name"] == "Ward 1")
    assert [n["name"] for n in ward["children"]] == ["Ward 1 night"]
    # the manager's team (subtree) now includes the moved wards: a night-shift liaison's hospital shows
    night_liaison = admin.post(
        U,
        json={
            "username": "night",
            "display_name": "Night",
            "password": PASSWORD,
            "department_id": c["id"],
            "roles": ["liaison"],
        },
    )
    assert night_liaison.status_code == 201
    assert people.client("night").post("/api/v1/records/hospital", json={"name": "Night partner"}).status_code == 201
    seen = {i["name"] for i in people.client("mgr").get("/api/v1/records/hospital").json()["items"]}
    assert "Night partner" in seen


def test_pl20_department_in_use_cannot_be_deleted(people: People) -> None:
    admin = people.client("admin")
    r = admin.delete(f"{D}/{people.departments['team_a']}")
    assert r.status_code == 409 and "sub-department" in r.json()["error"]["message"]
    r = admin.delete(f"{D}/{people.departments['team_b']}")
    assert r.status_code == 409 and "user" in r.json()["error"]["message"]
    empty = admin.post(D, json={"name": "Empty"}).json()
    assert admin.delete(f"{D}/{empty['id']}").status_code == 204
    assert admin.get(f"{D}/{empty['id']}").status_code == 404


# roles ----------------------------------------------------------------------------------------------
def test_pl20_roles_api_validates_and_applies_at_once(people: People) -> None:
    admin = people.client("admin")
    roles = {r["id"]: r for r in admin.get(R).json()}
    assert roles["manager"]["parent"] == "liaison" and roles["manager"]["shipped"] is True
    bad = {
        "id": "analyst",
        "label": "Analyst",
        "parent": "chief",
        "permissions": [
            {"entity": "patient", "actions": ["analyse"], "scope": "all"},
            {"entity": "hospital", "actions": ["read"], "scope": "all", "fields": {"read": ["name", "beds"]}},
        ],
    }
    errors = field_errors(admin.post(R, json=bad))
    assert errors == {
        "parent": "the parent role 'chief' does not exist",
        "permissions.0.entity": "the entity 'patient' does not exist",
        "permissions.1.fields.read.1": "the field 'beds' does not exist in entity 'hospital'",
    }
    errors = field_errors(admin.post(R, json={**bad, "parent": None, "permissions": [{"entity": "hospital"}]}))
    assert "permissions.0" in errors
    good = {
        "id": "analyst",
        "label": {"zh": "统计分析员", "en": "Analyst"},
        "permissions": [{"entity": "hospital", "actions": ["read", "analyse"], "scope": "organisation"}],
    }
    assert admin.post(R, json=good).status_code == 201
    assert admin.post(R, json=good).status_code == 409
    # a cycle through an edit is refused
    errors = field_errors(admin.put(f"{R}/staff", json={"id": "staff", "label": "Staff", "parent": "manager"}))
    assert "cycle" in errors["parent"]
    # the new role works at once for the user it is given to
    assert admin.put(f"{U}/{people.users['nobody']}/roles", json={"roles": ["analyst"]}).status_code == 200
    seen = {i["name"] for i in people.client("nobody").get("/api/v1/records/hospital").json()["items"]}
    assert seen == {"Hospital of L1", "Hospital of L2", "Hospital of L3", "Hospital of MGR"}
    # shipped roles cannot be deleted; created ones can (and holders lose them)
    assert admin.delete(f"{R}/liaison").status_code == 409
    assert admin.delete(f"{R}/analyst").status_code == 204
    assert admin.get(f"{U}/{people.users['nobody']}").json()["roles"] == []


# import ---------------------------------------------------------------------------------------------
def workbook(departments: list[list], users: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "部门"
    for row in departments:
        sheet.append(row)
    users_sheet = book.create_sheet("用户")
    for row in users:
        users_sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


DEPARTMENTS = [
    ["部门编码", "部门名称", "上级编码", "医院"],
    ["CARD", "心内科", "", "Third Hospital"],
    ["CARD-W", "心内科病房", "CARD", ""],
]
USERS = [
    ["账号", "姓名", "部门编码", "手机", "邮箱", "角色", "通知方式", "初始密码"],
    ["zhao", "赵医生", "CARD", 13800001111, "zhao@example.com", "liaison", "in_app,email", PASSWORD],
    ["qian", "钱护士", "CARD-W", "13800002222", "", "liaison、staff", "", ""],
    ["sun", "孙", "NOPE", "12345", "", "ghost", "", ""],
]


def upload(client, content: bytes, name: str, **params: str):  # noqa: ANN001, ANN201
    files = {"file": (name, content, "application/octet-stream")}
    return client.post(f"{U}/import", params=params, files=files)


def test_pl20_import_users_from_xlsx_preview_errors_and_idempotent_reimport(people: People) -> None:
    admin = people.client("admin")
    content = workbook(DEPARTMENTS, USERS)
    preview = upload(admin, content, "people.xlsx")
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert report["mode"] == "preview" and report["committed"] is False
    assert report["departments"]["summary"] == {"create": 2, "update": 0, "unchanged": 0, "error": 0}
    assert report["users"]["summary"] == {"create": 2, "update": 0, "unchanged": 0, "error": 1}
    [bad] = [row for row in report["users"]["rows"] if row["action"] == "error"]
    assert bad["row"] == 4 and bad["key"] == "sun"
    assert {e["field"] for e in bad["errors"]} == {"department_code", "phone", "roles"}
    assert "zhao" not in {u["username"] for u in admin.get(U, params={"q": "zhao"}).json()["items"]}
    # a commit with errors writes nothing unless told to skip the bad rows
    assert upload(admin, content, "people.xlsx", mode="commit").json()["committed"] is False
    assert admin.get(U, params={"q": "zhao"}).json()["items"] == []
    committed = upload(admin, content, "people.xlsx", mode="commit", skip_invalid="true").json()
    assert committed["committed"] is True
    [zhao] = admin.get(U, params={"q": "zhao"}).json()["items"]
    assert zhao["department"] == "心内科" and zhao["roles"] == ["liaison"] and zhao["phone"] == "13800001111"
    assert zhao["notify_channels"] == ["in_app", "email"]
    [qian] = admin.get(U, params={"q": "qian"}).json()["items"]
    assert qian["roles"] == ["liaison", "staff"]
    tree = {d["code"]: d for d in admin.get(D).json()}
    assert tree["CARD-W"]["parent_id"] == tree["CARD"]["id"] and tree["CARD"]["organisation"] == "Third Hospital"
    assert people.client("zhao").get("/api/v1/records/hospital").status_code == 200, "the imported password works"
    # importing the same file again changes nothing
    again = upload(admin, content, "people.xlsx", mode="commit", skip_invalid="true").json()
    assert again["departments"]["summary"] == {"create": 0, "update": 0, "unchanged": 2, "error": 0}
    assert again["users"]["summary"] == {"create": 0, "update": 0, "unchanged": 2, "error": 1}
    # a changed cell updates that user only
    changed = [row[:] for row in USERS[:3]]
    changed[2][3] = "13800003333"
    report = upload(admin, workbook(DEPARTMENTS, changed), "people.xlsx", mode="commit").json()
    assert report["committed"] is True
    assert [r["action"] for r in report["users"]["rows"]] == ["unchanged", "update"]
    assert admin.get(f"{U}/{qian['id']}").json()["phone"] == "13800003333"


def test_pl20_import_departments_from_csv_and_bad_files(people: People) -> None:
    admin = people.client("admin")
    csv_text = "code,name,parent_code,organisation\nNEURO,Neurology,,Fourth Hospital\nNEURO-1,Neuro ward,NEURO,\n"
    r = upload(admin, csv_text.encode("utf-8-sig"), "depts.csv", kind="departments", mode="commit")
    assert r.status_code == 200 and r.json()["committed"] is True, r.text
    assert r.json()["departments"]["summary"]["create"] == 2
    r = upload(admin, csv_text.encode(), "depts.csv", kind="departments", mode="commit")
    assert r.json()["departments"]["summary"]["unchanged"] == 2
    cycle = "code,name,parent_code\nNEURO,Neurology,NEURO-1\n"
    row = upload(admin, cycle.encode(), "d.csv", kind="departments").json()["departments"]["rows"][0]
    assert row["action"] == "error" and "cycle" in row["errors"][0]["message"]
    r = upload(admin, b"name\nX\n", "u.csv")
    assert r.status_code == 400 and "username" in r.json()["error"]["message"]
    assert upload(admin, b"not a workbook", "people.xlsx").status_code == 400
    assert upload(admin, b"x", "people.pdf").status_code == 400
    assert upload(people.client("l1"), b"x", "people.csv").status_code == 403
