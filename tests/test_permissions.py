"""PL-20 / RN-17 / PC-16: permissions per role x entity x action x data scope, field rights and masking,
enforced in the records service; exercised over real HTTP on SQLite and PostgreSQL.

People and records come from tests/support/people.py (scoped_crm pack): liaisons l1 (team A),
l3 (team A-1, under team A), l2 (team B), l4 (another hospital); manager mgr (team A); clerk (staff);
nobody (no role); boss (administrator role); admin (is_admin).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.blueprints import PackInvalid, load_pack
from runtime.errors import Forbidden
from runtime.permissions.masking import mask_cn_id, mask_email, mask_phone, mask_text
from runtime.records import Context, ListQuery
from runtime.records.query import Filter
from tests.support.packs import pack_variant
from tests.support.people import ID_NUMBERS, PHONES, People, Scoped, people_fixture, scoped_fixture  # noqa: F401

SCOPED = Path(__file__).parent / "packs" / "scoped_crm"
H = "/api/v1/records/hospital"


def names(response) -> set[str]:  # noqa: ANN001 - an httpx response
    assert response.status_code == 200, response.text
    return {item["name"] for item in response.json()["items"]}


# data scopes over HTTP ------------------------------------------------------------------------------
def test_pl20_liaison_cannot_get_update_or_delete_another_scopes_record(people: People) -> None:
    l1 = people.client("l1")
    other = people.hospitals["l2"]
    own = people.hospitals["l1"]
    assert l1.get(f"{H}/{own}").status_code == 200
    for response in (
        l1.get(f"{H}/{other}"),
        l1.patch(f"{H}/{other}", json={"version": 1, "city": "Taken"}),
        l1.put(f"{H}/{other}", json={"version": 1, "name": "Taken"}),
        l1.delete(f"{H}/{other}"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    assert "does not exist" in l1.get(f"{H}/{other}").json()["error"]["message"]
    # nothing changed for the owner
    l2 = people.client("l2")
    record = l2.get(f"{H}/{other}").json()
    assert record["city"] == "Hangzhou" and record["version"] == 1


def test_pl20_filters_and_search_cannot_widen_the_scope(people: People) -> None:
    l1 = people.client("l1")
    other = people.hospitals["l2"]
    assert names(l1.get(H)) == {"Hospital of L1"}
    assert l1.get(H, params={"count": "exact"}).json()["total"] == 1
    assert names(l1.get(H, params={"id": other})) == set()
    assert names(l1.get(H, params={"id__in": f"{other},{people.hospitals['l1']}"})) == {"Hospital of L1"}
    assert names(l1.get(H, params={"name": "Hospital of L2"})) == set()
    assert names(l1.get(H, params={"name__contains": "Hospital"})) == {"Hospital of L1"}
    assert names(l1.get(H, params={"owner_id": people.users["l2"]})) == set()
    assert names(l1.get(H, params={"q": "Hospital of L2"})) == set()
    assert names(l1.get(H, params={"city": "Hangzhou", "sort": "-name"})) == {"Hospital of L1"}


def test_rn17_manager_sees_the_team_subtree_but_not_other_teams(people: People) -> None:
    mgr = people.client("mgr")
    assert names(mgr.get(H)) == {"Hospital of MGR", "Hospital of L1", "Hospital of L3"}
    assert mgr.get(f"{H}/{people.hospitals['l2']}").status_code == 404
    assert mgr.get(f"{H}/{people.hospitals['l4']}").status_code == 404
    assert names(mgr.get(H, params={"id": people.hospitals["l2"]})) == set()
    # the manager works on the team's records: full phone, budget changes, deletes
    l3_record = mgr.get(f"{H}/{people.hospitals['l3']}").json()
    assert l3_record["phone"] == PHONES["l3"] and l3_record["internal_rating"] == 7
    r = mgr.patch(f"{H}/{people.hospitals['l3']}", json={"version": 1, "budget": 2500})
    assert r.status_code == 200, r.text
    assert r.json()["budget"] == 2500
    assert mgr.patch(f"{H}/{people.hospitals['l2']}", json={"version": 1, "budget": 1}).status_code == 404
    assert mgr.delete(f"{H}/{people.hospitals['l2']}").status_code == 404
    assert mgr.delete(f"{H}/{people.hospitals['l1']}").status_code == 204
    # the other team's liaison still has theirs
    assert people.client("l2").get(f"{H}/{people.hospitals['l2']}").status_code == 200


def test_rn17_liaison_sees_own_hospitals_including_ones_they_create(people: People) -> None:
    l2 = people.client("l2")
    r = l2.post(H, json={"name": "New partner", "phone": "13312345678"})
    assert r.status_code == 201, r.text
    assert r.json()["phone"] == "133****5678", "the answer to a create is masked too"
    assert names(l2.get(H)) == {"Hospital of L2", "New partner"}
    assert "New partner" not in names(people.client("l1").get(H))
    assert "New partner" not in names(people.client("mgr").get(H)), "team B is not the manager's team"
    assert "New partner" in names(people.client("boss").get(H))


def test_pl20_no_role_means_no_access(people: People) -> None:
    nobody = people.client("nobody")
    for response in (
        nobody.get(H),
        nobody.get(f"{H}/{people.hospitals['l1']}"),
        nobody.post(H, json={"name": "X"}),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"
    assert nobody.patch(f"{H}/{people.hospitals['l1']}", json={"version": 1, "city": "X"}).status_code == 404
    assert nobody.delete(f"{H}/{people.hospitals['l1']}").status_code == 404


def test_pl20_action_rights_liaison_may_not_delete_even_own_records(people: People) -> None:
    l1 = people.client("l1")
    r = l1.delete(f"{H}/{people.hospitals['l1']}")
    assert r.status_code == 403 and "may not delete" in r.json()["error"]["message"]
    assert l1.get(f"{H}/{people.hospitals['l1']}").status_code == 200


def test_pl20_administrators_see_everything(people: People) -> None:
    everything = {f"Hospital of {w}" for w in ("L1", "L2", "L3", "MGR", "L4")}
    assert names(people.client("admin").get(H)) == everything
    boss = people.client("boss")
    assert names(boss.get(H)) == everything
    assert boss.get(f"{H}/{people.hospitals['l2']}").json()["phone"] == PHONES["l2"]


# masking --------------------------------------------------------------------------------------------
def test_pl20_masked_fields_in_api_get_list_and_search(people: People) -> None:
    l1 = people.client("l1")
    own = people.hospitals["l1"]
    expected_phone = "138****5678"
    expected_id = "*" * 14 + ID_NUMBERS["l1"][-4:]
    record = l1.get(f"{H}/{own}").json()
    assert record["phone"] == expected_phone
    assert record["contact_id_number"] == expected_id
    assert "internal_rating" not in record, "a field the role may not read at all is left out"
    assert record["email"] == "l***@example.com" and record["budget"] == 1000
    [item] = l1.get(H).json()["items"]
    assert item["phone"] == expected_phone and item["contact_id_number"] == expected_id
    assert "internal_rating" not in item
    [found] = l1.get(H, params={"q": "Hospital of L1"}).json()["items"]
    assert found["phone"] == expected_phone and found["contact_id_number"] == expected_id
    [found] = l1.get(H, params={"q": "Hospital", "view": "hospital_list"}).json()["items"]
    assert found["phone"] == expected_phone
    # the full value never appears anywhere in the answers
    for response in (l1.get(f"{H}/{own}"), l1.get(H), l1.get(H, params={"q": "Hospital"})):
        assert PHONES["l1"] not in response.text and ID_NUMBERS["l1"] not in response.text
    # the manager reads the same record in full
    full = people.client("mgr").get(f"{H}/{own}").json()
    assert full["phone"] == PHONES["l1"] and full["contact_id_number"] == ID_NUMBERS["l1"]


def test_pl20_filter_sort_or_search_on_a_masked_field_cannot_probe_it(people: People) -> None:
    l1 = people.client("l1")
    for params in (
        {"phone": PHONES["l1"]},
        {"contact_id_number__empty": "false"},
        {"internal_rating__gt": "5"},
        {"email__contains": "l1"},
        {"email": "l1.contact@example.com"},
        {"sort": "email"},
        {"sort": "-internal_rating"},
    ):
        r = l1.get(H, params=params)
        assert r.status_code == 403, (params, r.text)
        assert "may not" in r.json()["error"]["message"]
    # an encrypted field allows exact matches only: refused before permissions are even asked
    assert l1.get(H, params={"phone__contains": "5678"}).status_code in (400, 403)
    assert l1.get(H, params={"sort": "phone"}).status_code in (400, 403)
    # a search over a view whose search fields include the phone leaves the phone out
    assert names(l1.get(H, params={"q": "5678", "view": "hospital_list"})) == set()
    assert names(l1.get(H, params={"q": "Hangzhou", "view": "hospital_list"})) == {"Hospital of L1"}
    # the manager may filter by phone
    assert names(people.client("mgr").get(H, params={"phone": PHONES["l1"]})) == {"Hospital of L1"}


def test_pl20_masking_functions() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("010-12345678") == "010*****5678"
    assert mask_cn_id("110105194912310021") == "**************0021"
    assert mask_email("zhang@example.com") == "z***@example.com"
    assert mask_text("张三丰") == "张*丰" and mask_text("张三") == "张*" and mask_text("") == ""


# field write rights ---------------------------------------------------------------------------------
def test_pl20_field_write_refused_per_field(people: People) -> None:
    l1 = people.client("l1")
    own = people.hospitals["l1"]
    r = l1.patch(f"{H}/{own}", json={"version": 1, "budget": 99999, "city": "Ningbo"})
    assert r.status_code == 422, r.text
    [error] = r.json()["error"]["errors"]
    assert (error["field"], error["message"], error["code"]) == (
        "budget",
        "you may not change this field",
        "forbidden_field",
    )
    # unchanged values sent back are fine, including the masked ones shown to the liaison
    record = l1.get(f"{H}/{own}").json()
    r = l1.patch(f"{H}/{own}", json={**record, "city": "Ningbo"})
    assert r.status_code == 200, r.text
    assert r.json()["city"] == "Ningbo"
    stored = people.client("admin").get(f"{H}/{own}").json()
    assert stored["phone"] == PHONES["l1"] and stored["budget"] == 1000 and stored["internal_rating"] == 7
    assert stored["email"] == "l1.contact@example.com"
    # a new phone may be written (then shown masked); a field never readable cannot be set
    r = l1.patch(f"{H}/{own}", json={"version": 2, "phone": "13900001234"})
    assert r.status_code == 200 and r.json()["phone"] == "139****1234"
    r = l1.patch(f"{H}/{own}", json={"version": 3, "internal_rating": 1})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "internal_rating"
    r = l1.post(H, json={"name": "With budget", "budget": 5})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "budget"
    # the manager may set the budget (RN-17: budget writable only by managers)
    r = people.client("mgr").patch(f"{H}/{own}", json={"version": 3, "budget": 4200})
    assert r.status_code == 200 and r.json()["budget"] == 4200


def test_pl20_masked_value_sent_back_keeps_the_stored_value(scoped: Scoped) -> None:
    """A client returning the masked text it was shown must not overwrite the real value with it."""
    records = scoped.tessera.records
    own = scoped.hospitals["l1"]
    shown = records.get("hospital", own, scoped.ctx("l1"))
    assert shown["phone"] == "138****5678"
    changed = records.update("hospital", own, {**shown, "city": "Wenzhou"}, scoped.ctx("l1"), expected_version=1)
    assert changed["city"] == "Wenzhou" and changed["phone"] == "138****5678"
    stored = records.get("hospital", own, scoped.ctx("admin"))
    assert stored["phone"] == PHONES["l1"] and stored["contact_id_number"] == ID_NUMBERS["l1"]


# role hierarchy -------------------------------------------------------------------------------------
def test_pl20_role_hierarchy_child_inherits_parent_permissions(people: People) -> None:
    mgr, clerk = people.client("mgr"), people.client("clerk")
    # manager.json says nothing about leads: creating and reading them is inherited (liaison, staff)
    r = mgr.post("/api/v1/records/lead", json={"title": "MRI cooperation", "hospital": people.hospitals["l1"]})
    assert r.status_code == 201, r.text
    assert mgr.get(f"/api/v1/records/lead/{r.json()['id']}").status_code == 200
    # staff alone may read own leads but not create any
    r = clerk.post("/api/v1/records/lead", json={"title": "Not allowed"})
    assert r.status_code == 403
    assert clerk.get("/api/v1/records/lead").json()["items"] == []
    assert clerk.get(H).status_code == 403


def test_pl20_union_of_several_roles(scoped: Scoped) -> None:
    """A liaison who is also given 'manager' gets the broader scope and the unmasked phone."""
    scoped.admin.set_user_roles(scoped.users["l2"], ["liaison", "manager"])
    ctx = scoped.ctx("l2")
    page = scoped.tessera.records.list("hospital", ListQuery(), ctx)
    assert {i["name"] for i in page.items} == {"Hospital of L2"}, "team B has only L2's hospital"
    assert page.items[0]["phone"] == PHONES["l2"]
    assert scoped.tessera.permissions.can(ctx, "hospital", "delete")
    assert not scoped.tessera.permissions.can(scoped.ctx("l1"), "hospital", "export")


# other scopes and role-restricted contexts ----------------------------------------------------------
def test_pl20_department_and_organisation_scopes(scoped: Scoped) -> None:
    admin = scoped.admin
    grant = {"entity": "hospital", "actions": ["read"], "scope": "department"}
    admin.create_role({"id": "desk", "label": "Desk", "permissions": [grant]})
    admin.create_role({"id": "director", "label": "Director", "permissions": [{**grant, "scope": "organisation"}]})
    admin.set_user_roles(scoped.users["nobody"], ["desk"])
    records = scoped.tessera.records
    seen = {i["name"] for i in records.list("hospital", ListQuery(), scoped.ctx("nobody")).items}
    assert seen == {"Hospital of L1", "Hospital of MGR"}, "team A only, not the sub-team A-1"
    admin.set_user_roles(scoped.users["nobody"], ["director"])
    seen = {i["name"] for i in records.list("hospital", ListQuery(), scoped.ctx("nobody")).items}
    assert seen == {"Hospital of L1", "Hospital of MGR", "Hospital of L2", "Hospital of L3"}
    assert "Hospital of L4" not in seen, "the branch belongs to another hospital (organisation)"


def test_pl20_update_outside_the_update_scope_is_forbidden(scoped: Scoped) -> None:
    scoped.admin.create_role(
        {
            "id": "auditor",
            "label": "Auditor",
            "permissions": [
                {"entity": "hospital", "actions": ["read"], "scope": "all"},
                {"entity": "hospital", "actions": ["update"], "scope": "own"},
            ],
        }
    )
    scoped.admin.set_user_roles(scoped.users["nobody"], ["auditor"])
    ctx = scoped.ctx("nobody")
    records = scoped.tessera.records
    assert records.get("hospital", scoped.hospitals["l4"], ctx)["name"] == "Hospital of L4"
    with pytest.raises(Forbidden, match="may not change this"):
        records.update("hospital", scoped.hospitals["l4"], {"city": "X"}, ctx, expected_version=1)


def test_pl20_context_restricted_to_roles(scoped: Scoped) -> None:
    """API tokens scoped to roles act with those roles only (never admin rights)."""
    records = scoped.tessera.records
    with pytest.raises(Forbidden):
        records.list("hospital", ListQuery(), scoped.ctx("mgr", roles=("staff",)))
    page = records.list("hospital", ListQuery(), scoped.ctx("mgr", roles=("liaison",)))
    assert {i["name"] for i in page.items} == {"Hospital of MGR"} and page.items[0]["phone"] == "136****1111"
    admin_token = scoped.ctx("admin", roles=("liaison",))
    assert {i["name"] for i in records.list("hospital", ListQuery(), admin_token).items} == set()
    assert not scoped.tessera.permissions.has_right(admin_token, "admin")


def test_pl20_platform_contexts_without_a_user_have_full_rights(scoped: Scoped) -> None:
    for channel in ("system", "rule", "workflow"):
        page = scoped.tessera.records.list("hospital", ListQuery(), Context(channel=channel))
        assert len(page.items) == 5 and page.items[0]["phone"] in PHONES.values()


def test_pl20_title_lookups_follow_the_scope(scoped: Scoped) -> None:
    ids = list(scoped.hospitals.values())
    titles = scoped.tessera.records.titles("hospital", ids, scoped.ctx("l1"))
    assert titles == {scoped.hospitals["l1"]: "Hospital of L1"}
    assert scoped.tessera.records.titles("hospital", ids, scoped.ctx("nobody")) == {}


def test_pl20_list_query_checks_on_the_service(scoped: Scoped) -> None:
    records = scoped.tessera.records
    with pytest.raises(Forbidden, match="filter on the field 'phone'"):
        records.list("hospital", ListQuery(filters=[Filter("phone", "eq", PHONES["l1"])]), scoped.ctx("l1"))
    found = records.list(
        "hospital", ListQuery(filters=[Filter("owner_id", "eq", scoped.users["l1"])]), scoped.ctx("l1")
    )
    assert len(found.items) == 1


# permission service API for export / print / analyse ------------------------------------------------
def test_pl20_permission_service_answers_for_other_channels(scoped: Scoped) -> None:
    perms = scoped.tessera.permissions
    assert perms.can(scoped.ctx("mgr"), "hospital", "export")
    assert not perms.can(scoped.ctx("l1"), "hospital", "export")
    with pytest.raises(Forbidden, match="may not print"):
        perms.require(scoped.ctx("l1"), "hospital", "print")
    assert perms.field_levels(scoped.ctx("l1"), "hospital")["phone"] == "masked"
    assert perms.field_levels(scoped.ctx("l1"), "hospital")["internal_rating"] == "hidden"
    assert "budget" not in perms.writable_fields(scoped.ctx("l1"), "hospital")
    assert perms.has_right(scoped.ctx("boss"), "admin") and not perms.has_right(scoped.ctx("mgr"), "admin")


# roles shipped in packs -----------------------------------------------------------------------------
def test_pl20_pack_roles_are_stored_and_admin_edits_win_until_reset(scoped: Scoped) -> None:
    app, admin = scoped.tessera, scoped.admin
    stored = admin.stored_roles()
    assert set(stored) >= {"staff", "liaison", "manager", "administrator"}
    assert stored["manager"].parent == "liaison" and stored["manager"].pack_id == "scoped_crm"
    doc = admin.get_role("liaison")
    doc["permissions"][0]["fields"]["masked"] = ["contact_id_number"]  # liaisons may now read phones
    edited = admin.update_role("liaison", {k: doc[k] for k in ("id", "label", "parent", "permissions")})
    assert edited["customised"] is True
    assert app.records.get("hospital", scoped.hospitals["l1"], scoped.ctx("l1"))["phone"] == PHONES["l1"]
    app.deploy(app.load_pack(SCOPED))  # redeploying the pack keeps the administrator's version
    assert admin.get_role("liaison")["customised"] is True
    assert app.records.get("hospital", scoped.hospitals["l1"], scoped.ctx("l1"))["phone"] == PHONES["l1"]
    admin.reset_role("liaison")
    assert admin.get_role("liaison")["customised"] is False
    assert app.records.get("hospital", scoped.hospitals["l1"], scoped.ctx("l1"))["phone"] == "138****5678"


# pack validation ------------------------------------------------------------------------------------
def role_errors(tmp_path: Path, change) -> list[tuple[str, str, str]]:  # noqa: ANN001
    path = pack_variant(SCOPED, tmp_path / "p", change)
    with pytest.raises(PackInvalid) as info:
        load_pack(path)
    return [(e.file, e.pointer, e.message) for e in info.value.errors]


def test_pl20_pack_role_with_unknown_entity_or_field(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        docs["roles/liaison.json"]["permissions"][0]["fields"]["masked"].append("mobile")
        docs["roles/staff.json"]["permissions"][0]["entity"] = "patient"

    errors = role_errors(tmp_path, change)
    assert (
        "roles/liaison.json",
        "/permissions/0/fields/masked/3",
        "the field 'mobile' does not exist in entity 'hospital'",
    ) in errors
    assert ("roles/staff.json", "/permissions/0/entity", "the entity 'patient' does not exist") in errors


def test_pl20_pack_role_hierarchy_cycle_and_unknown_parent(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        docs["roles/staff.json"]["parent"] = "manager"

    errors = role_errors(tmp_path, change)
    cyclic = {file for file, pointer, message in errors if pointer == "/parent" and "cycle" in message}
    assert cyclic == {"roles/staff.json", "roles/liaison.json", "roles/manager.json"}

    def unknown(docs: dict) -> None:
        docs["roles/manager.json"]["parent"] = "chief"

    assert ("roles/manager.json", "/parent", "the parent role 'chief' does not exist") in role_errors(tmp_path, unknown)


def test_pl20_pack_role_schema_errors(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        docs["roles/staff.json"]["permissions"][0]["scope"] = "team"
        docs["roles/staff.json"]["permissions"][0]["actions"] = ["read", "approve"]

    errors = role_errors(tmp_path, change)
    files = {(f, p) for f, p, _ in errors}
    assert ("roles/staff.json", "/permissions/0/scope") in files
    assert ("roles/staff.json", "/permissions/0/actions/1") in files
    assert any("'team' is not one of the allowed values" in m for _, _, m in errors)


def test_pl20_the_test_pack_documents_are_valid_json() -> None:
    for path in SCOPED.rglob("*.json"):
        json.loads(path.read_text("utf-8"))
    pack = load_pack(SCOPED)
    assert pack.roles["manager"].parent == "liaison"
