"""Generic rule features added for the patient CRM (PL-09/PL-12), on a small pack written by the test:

* ``for_each`` on create/upsert actions: one run per record of a segment (a campaign audience), narrowed by
  ``where``, idempotent through the upsert's match;
* ``set_fields`` with ``assign`` (a user field from an assignment spec; ``{"role", "over"}`` = the nearest holder
  above a user, an escalation target) and ``departments`` (a department field from department codes: routing);
* notify recipients ``reference.field`` and a role ``over`` a department field;
* the assignment spec ``department_code``; contacts' unsubscribe tokens.
(``start_workflow`` ``users`` is shown end to end in test_pc15_mdt, follow-up ``answer_values`` in
test_pc12_followup_templates, the unsubscribe page in test_pc18_flu_campaign.)
SQLite and PostgreSQL, real jobs, no mocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from runtime.automation.assignment import assign
from runtime.errors import BadRequest
from runtime.notify.unsubscribe import make_token, read_token
from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt

ADMIN = Context(channel="system", lang="en", is_admin=True)


def label(text: str) -> dict[str, str]:
    return {"zh": text, "en": text}


def write_pack(root: Path) -> Path:
    """members (a segment of VIPs), drives inviting a segment, tickets escalated and routed by rules."""
    pack = root / "audience_pack"

    def put(rel: str, doc: dict[str, Any]) -> None:
        path = pack / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, ensure_ascii=False))

    put("pack.json", {"id": "audience_pack", "version": "1.0.0", "name": label("受众"), "platform": ">=0.1,<1"})
    put("entities/member.json", {"id": "member", "label": label("会员"), "title_field": "name", "fields": [
        {"name": "name", "type": "text", "label": label("姓名"), "required": True},
        {"name": "vip", "type": "boolean", "label": label("VIP"), "default": False, "indexed": True},
        {"name": "opt_out", "type": "boolean", "label": label("退订"), "default": False},
        {"name": "owner", "type": "user", "label": label("负责人")}]})  # fmt: skip
    put("entities/drive.json", {"id": "drive", "label": label("活动"), "title_field": "name", "fields": [
        {"name": "name", "type": "text", "label": label("名称"), "required": True},
        {"name": "segment", "type": "text", "label": label("客群")},
        {"name": "departments", "type": "text", "label": label("科室")}]})  # fmt: skip
    put("entities/invite.json", {"id": "invite", "label": label("邀请"), "fields": [
        {"name": "drive", "type": "reference", "entity": "drive", "label": label("活动"), "required": True},
        {"name": "member", "type": "reference", "entity": "member", "label": label("会员"), "required": True},
        {"name": "note", "type": "text", "label": label("备注")}]})  # fmt: skip
    put("entities/ticket.json", {"id": "ticket", "label": label("工单"), "title_field": "title", "fields": [
        {"name": "title", "type": "text", "label": label("标题"), "required": True},
        {"name": "kind", "type": "text", "label": label("类别")},
        {"name": "member", "type": "reference", "entity": "member", "label": label("会员")},
        {"name": "staff", "type": "user", "label": label("处理人")},
        {"name": "escalated_to", "type": "user", "label": label("升级给")},
        {"name": "department", "type": "department", "label": label("科室")}]})  # fmt: skip
    for role in ("boss", "head"):
        grants = [{"entity": "ticket", "actions": ["read"], "scope": "all"}]
        put(f"roles/{role}.json", {"id": role, "label": label(role), "permissions": grants})
    put("segments/vips.json", {"id": "vips", "entity": "member", "label": label("VIP"),
                               "filters": [{"field": "vip", "op": "eq", "value": True}]})  # fmt: skip
    put("rules/drive_invites.json", {"id": "drive_invites", "entity": "drive", "trigger": {"on": "write"},
        "condition": "segment is not None", "actions": [
            {"type": "upsert_record", "entity": "invite",
             "for_each": {"segment": "segment", "where": "not m['opt_out']", "as": "m"},
             "match": {"drive": "id", "member": "m['id']"},
             "values": {"note": "concat(name, ' → ', m['name'])"}}]})  # fmt: skip
    put("rules/ticket_route.json", {"id": "ticket_route", "entity": "ticket", "trigger": {"on": "create"},
        "actions": [
            {"type": "set_fields", "assign": {"escalated_to": {"role": "boss", "over": "staff"}},
             "departments": {"department": "['NO-SUCH', concat('D-', upper(kind))]"}},
            {"type": "notify", "recipients": [{"field": "member.owner"}, {"role": "head", "over": "department"}],
             "title": "工单：{{ title }}"}]})  # fmt: skip
    return pack


@pytest.fixture
def world(make_tessera: Callable[..., Tessera], tmp_path: Path) -> dict[str, Any]:
    app = make_tessera(str(write_pack(tmp_path)))
    people = PeopleAdmin(app.db, app.registry, app.permissions, clock=app.clock)
    dept: dict[str, int] = {}
    dept["ROOT"] = int(people.create_department({"name": "总院", "code": "ROOT"})["id"])
    for code, parent in (("TEAM", "ROOT"), ("TEAM-1", "TEAM"), ("D-NURSING", "ROOT"), ("D-FOOD", "ROOT")):
        dept[code] = int(people.create_department({"name": code, "code": code, "parent_id": dept[parent]})["id"])
    users: dict[str, int] = {}
    for name, code, roles in (
        ("worker", "TEAM-1", []),
        ("team_boss", "TEAM", ["boss"]),
        ("other_boss", "D-FOOD", ["boss"]),
        ("nursing_head", "D-NURSING", ["head"]),
        ("food_head", "D-FOOD", ["head"]),
        ("owner", "ROOT", []),
    ):
        made = people.create_user(
            {"username": name, "display_name": name, "department_id": dept[code], "roles": roles, "language": "zh"}
        )
        users[name] = int(made["id"])
    return {"app": app, "dept": dept, "users": users}


def titles(app: Tessera, user_id: int) -> list[str]:
    n = pt.notifications
    with app.db.read() as conn:
        return list(conn.execute(sa.select(n.c.title).where(n.c.user_id == user_id)).scalars())


def test_pl09_for_each_creates_one_row_per_segment_record_and_never_twice(world: dict[str, Any]) -> None:
    app = world["app"]
    members = {
        name: app.records.create("member", {"name": name, "vip": vip, "opt_out": out}, ADMIN)["id"]
        for name, vip, out in (("甲", True, False), ("乙", True, True), ("丙", False, False), ("丁", True, False))
    }
    drive = app.records.create("drive", {"name": "冬季活动", "segment": "vips"}, ADMIN)
    app.jobs.run_pending()
    invites = {i["member"]: i for i in app.records.list("invite", _all(), ADMIN).items}
    assert set(invites) == {members["甲"], members["丁"]}, "the segment's VIPs, less the one who opted out"
    assert invites[members["甲"]]["note"] == "冬季活动 → 甲"
    # a second write of the drive runs the rule again: the upsert's match makes no second invite
    app.records.update("drive", drive["id"], {"name": "冬季活动（延长）"}, ADMIN, expected_version=None)
    app.jobs.run_pending()
    again = app.records.list("invite", _all(), ADMIN).items
    assert len(again) == 2 and {i["note"] for i in again} == {"冬季活动（延长） → 甲", "冬季活动（延长） → 丁"}


def test_pl09_for_each_with_an_unknown_segment_fails_the_run_clearly(world: dict[str, Any]) -> None:
    from runtime.automation.rules.tables import rule_runs

    app = world["app"]
    app.records.create("drive", {"name": "错误活动", "segment": "no_such_segment"}, ADMIN)
    app.jobs.run_pending()
    with app.db.read() as conn:
        errors = list(conn.execute(sa.select(rule_runs.c.error).where(rule_runs.c.status == "failed")).scalars())
    assert any("unknown segment 'no_such_segment'" in (e or "") for e in errors)


def test_pl09_escalation_target_and_department_routing_and_reference_recipients(world: dict[str, Any]) -> None:
    app, users, dept = world["app"], world["users"], world["dept"]
    member = app.records.create("member", {"name": "戊", "owner": users["owner"]}, ADMIN)
    ticket = app.records.create(
        "ticket", {"title": "夜班呼叫慢", "kind": "nursing", "member": member["id"], "staff": users["worker"]}, ADMIN
    )
    app.jobs.run_pending()
    routed = app.records.get("ticket", ticket["id"], ADMIN)
    assert routed["escalated_to"] == users["team_boss"], "the boss nearest above the worker, not another boss"
    assert routed["department"] == dept["D-NURSING"], "the first code that names a department"
    assert "工单：夜班呼叫慢" in titles(app, users["owner"]), "member.owner: a user one reference away"
    assert "工单：夜班呼叫慢" in titles(app, users["nursing_head"]), "a head over the routed department"
    assert titles(app, users["food_head"]) == [], "not the head of another department"


def test_pl12_assignment_over_and_department_code_fall_back_to_every_holder(world: dict[str, Any]) -> None:
    app, users = world["app"], world["users"]
    with app.db.write() as conn:
        nobody = assign(app, conn, {"role": "boss", "over": "staff"}, {"staff": None})
        assert nobody in (users["team_boss"], users["other_boss"]), "no user named: any holder still gets it"
        food = assign(app, conn, {"role": "head", "department_code": "concat('D-', upper(kind))"}, {"kind": "food"})
        assert food == users["food_head"]
        missing = assign(app, conn, {"role": "head", "department_code": "'D-NONE'"}, {})
        assert missing in (users["food_head"], users["nursing_head"])
        with pytest.raises(BadRequest, match="department_code"):
            assign(app, conn, {"role": "head", "department_code": "kind +"}, {"kind": "x"})


def test_pl16_unsubscribe_tokens_are_signed_and_name_one_field() -> None:
    token = make_token("secret-1", "patient", 12, "contact_opt_out")
    assert read_token("secret-1", token) == ("patient", 12, "contact_opt_out")
    with pytest.raises(BadRequest, match="not valid"):
        read_token("another-secret", token)
    with pytest.raises(BadRequest, match="not valid"):
        read_token("secret-1", token[:-2] + "xx")


def _all() -> Any:
    from runtime.records import ListQuery

    return ListQuery(limit=200, count="none")
