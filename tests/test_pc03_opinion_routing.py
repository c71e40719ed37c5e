"""PC-03 automation: an opinion recorded on a follow-up becomes a graded opinion record routed to the right
department (by category and ward), the department head is its handler and is told; important opinions reach
the supervisors, critical ones the managers and the director; praise becomes a praise record; resolving an
opinion tells the officer who recorded it. The shipped patient_crm pack on SQLite and PostgreSQL, real HTTP as
the demo users, rule jobs through app.jobs.run_pending()."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.patient_crm import ADMIN, NOW, Crm, crm_fixture, ok

crm = crm_fixture()
API = "/api/v1/records"


@pytest.fixture(scope="module")
def org(crm: Crm) -> dict[str, int]:
    """A cardiology ward with its head and nurse, and the logistics department with its head."""
    crm.ward_department("WARD-CARDIOLOGY", "心内科病区")
    crm.ward_department("LOGISTICS", "后勤保障部")
    return {
        "cardio_head": crm.create_user("pc03.cardio_head", ["department_head"], "WARD-CARDIOLOGY", "心内科主任"),
        "cardio_nurse": crm.create_user("pc03.cardio_nurse", ["nurse"], "WARD-CARDIOLOGY", "心内科护士"),
        "logistics_head": crm.create_user("pc03.log_head", ["department_head"], "LOGISTICS", "后勤主任"),
    }


def open_call(crm: Crm, name: str, ward: str = "cardiology") -> dict[str, Any]:
    """A discharge call of officer1 for a new patient of officer1's team, as the discharge rule makes it."""
    who = crm.create(
        "patient",
        {
            "name": name,
            "gender": "male",
            "responsible_staff": crm.uid("pc.officer1"),
            "department": crm.department("DEV-MKT-1"),
        },
    )
    values = {
        "title": f"出院回访：{name}",
        "patient": who["id"],
        "ward": ward,
        "type": "discharge_call",
        "channel": "phone",
        "due_at": (NOW + timedelta(hours=2)).isoformat(),
        "staff": crm.uid("pc.officer1"),
        "department": crm.department("DEV-MKT-1"),
    }
    return crm.create("followup_call", values)


def complete(crm: Crm, call: dict[str, Any], **answers: Any) -> None:
    """The call is completed with the discharge call form (完成出院回访) over HTTP by officer1's team supervisor
    (the call stays officer1's: its caller, who is told when the opinion is resolved)."""
    data = {"done_at": NOW.isoformat(), **answers}
    r = crm.client("pc.supervisor1").post(
        f"{API}/followup_call/{call['id']}/actions/complete_discharge_call", json={"input": data}
    )
    ok(r)
    crm.app.jobs.run_pending()


def titles(crm: Crm, username: str) -> list[str]:
    r = crm.client(username).get("/api/v1/notifications", params={"limit": 100})
    return [n.get("title") or "" for n in ok(r)["items"]]


def test_pc03_opinion_on_a_call_is_routed_to_the_ward_department_and_its_head(crm: Crm, org: dict) -> None:
    call = open_call(crm, "周建华")
    complete(crm, call, satisfaction="unsatisfied", opinion="夜间护士呼叫铃响应太慢", opinion_category="nursing",
             important=True)  # fmt: skip
    [opinion] = crm.every("opinion", followup_call=call["id"])
    assert opinion["content"] == "夜间护士呼叫铃响应太慢"
    assert opinion["category"] == "nursing" and opinion["grade"] == "important"
    assert opinion["ward"] == "cardiology" and opinion["patient"] == call["patient"]
    assert opinion["department"] == crm.department("WARD-CARDIOLOGY"), "nursing opinions go to the ward"
    assert opinion["status"] == "routed" and opinion["handler"] == org["cardio_head"]
    assert any("新的患者意见待处理" in t for t in titles(crm, "pc03.cardio_head")), "the head is told"
    assert any("重要意见" in t for t in titles(crm, "pc.supervisor1")), "important: supervisors are told"
    assert not any("重要意见" in t for t in titles(crm, "pc.manager")), "managers only for critical ones"
    # the ward head sees it over HTTP (department scope), in the important opinions
    r = crm.client("pc03.cardio_head").get(f"{API}/opinion", params={"grade__in": "important,critical"})
    assert opinion["id"] in [o["id"] for o in ok(r)["items"]]


def test_pc03_logistics_opinion_goes_to_logistics_department(crm: Crm, org: dict) -> None:
    call = open_call(crm, "吴桂芳")
    complete(crm, call, satisfaction="unsatisfied", opinion="病房热水供应不稳定", opinion_category="logistics")
    [opinion] = crm.every("opinion", followup_call=call["id"])
    assert opinion["department"] == crm.department("LOGISTICS")
    assert opinion["handler"] == org["logistics_head"] and opinion["grade"] == "normal"
    assert any("病房热水" in t for t in titles(crm, "pc03.log_head"))


def test_pc03_critical_opinion_reaches_manager_and_director(crm: Crm, org: dict) -> None:
    r = crm.client("pc.supervisor1").post(
        f"{API}/opinion",
        json={"content": "出院结算多收费用，患者要求投诉", "category": "billing", "grade": "critical",
              "ward": "cardiology"},
    )  # fmt: skip
    created = ok(r, 201)
    crm.app.jobs.run_pending()
    routed = crm.get("opinion", created["id"])
    assert routed["status"] == "routed" and routed["department"] is not None
    for boss in ("pc.manager", "pc.director", "pc.supervisor1"):
        assert any("重要意见" in t for t in titles(crm, boss)), boss


def test_pc03_praise_on_a_call_creates_a_praise_record(crm: Crm, org: dict) -> None:
    call = open_call(crm, "郑小红")
    complete(crm, call, satisfaction="satisfied", praise=True, praised_staff="心内科 王护士", notes="护理非常耐心")
    [praise] = crm.every("praise", followup_call=call["id"])
    assert praise["praised_staff"] == "心内科 王护士" and praise["content"] == "护理非常耐心"
    assert praise["ward"] == "cardiology" and praise["patient"] == call["patient"]
    assert crm.every("opinion", followup_call=call["id"]) == [], "praise alone is no opinion"
    assert any("患者表扬：心内科 王护士" in t for t in titles(crm, "pc.supervisor1")), "the caller's supervisor hears"


def test_pc03_resolved_opinion_notifies_the_recording_officer(crm: Crm, org: dict) -> None:
    call = open_call(crm, "冯志强")
    complete(crm, call, satisfaction="unsatisfied", opinion="输液时护士态度冷淡", opinion_category="nursing")
    [opinion] = crm.every("opinion", followup_call=call["id"])
    # the department resolves it (the 办结 action itself is tested with the opinion flow in test_pc03_opinions)
    values = {"status": "resolved", "response": "已约谈当班护士并整改", "resolved_at": NOW.isoformat()}
    crm.app.records.update("opinion", opinion["id"], values, ADMIN, expected_version=None)
    crm.app.jobs.run_pending()
    done = crm.get("opinion", opinion["id"])
    assert done["status"] == "resolved" and done["resolved_at"] is not None
    assert any("您登记的意见已办结" in t for t in titles(crm, "pc.officer1"))
