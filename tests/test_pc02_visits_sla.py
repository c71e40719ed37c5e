"""PC-02: an admission creates the bedside admission visit due within 24 hours, assigned to the ward's nurse;
a discharge creates the 72-hour discharge call; SLA timers make an open call overdue (the caller reminded) and
then escalate it to the supervisor (escalated_to, escalated_at, a notice). The shipped patient_crm pack on
SQLite and PostgreSQL behind a live server; rule jobs run through app.jobs.run_pending() as the job runner
would, with the fixed test clock moved forward."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.patient_crm import NOW, Crm, crm_fixture, ok

crm = crm_fixture()
API = "/api/v1/records"


@pytest.fixture
def start(crm: Crm) -> datetime:
    """This test's "now": 09:30 on the day after where the previous test left the clock (the date-rule scans
    only move forward, as real time does)."""
    moment = (max(crm.app.clock.now(), NOW) + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    at(crm, moment)
    return moment


def at(crm: Crm, moment: datetime) -> None:
    """Move the clock and run every job due by then (rule runs, date scans, deliveries)."""
    crm.app.clock.set(moment)
    crm.app.jobs.run_pending()


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def patient(crm: Crm, name: str, **extra: Any) -> dict[str, Any]:
    values = {
        "name": name,
        "gender": "female",
        "phone": "13900001111",
        "responsible_staff": crm.uid("pc.officer1"),
        "department": crm.department("DEV-MKT-1"),
        **extra,
    }
    return crm.create("patient", values)


def admit(crm: Crm, who: dict[str, Any], visit_no: str, admitted: datetime, ward: str = "orthopedics") -> dict:
    values = {
        "visit_no": visit_no,
        "patient": who["id"],
        "ward": ward,
        "bed": "12",
        "admitted_at": iso(admitted),
        "diagnosis": "膝关节骨性关节炎",
        "status": "admitted",
    }
    return crm.create("admission", values)


def calls(crm: Crm, admission: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return crm.every("followup_call", admission=admission["id"], type=kind)


def notices(crm: Crm, username: str, needle: str) -> list[dict[str, Any]]:
    r = crm.client(username).get("/api/v1/notifications", params={"limit": 100})
    return [n for n in ok(r)["items"] if needle in (n.get("title") or "")]


@pytest.fixture(scope="module")
def ward(crm: Crm) -> dict[str, int]:
    """The orthopaedic ward (department WARD-ORTHOPEDICS) with its nurse."""
    dept = crm.ward_department("WARD-ORTHOPEDICS", "骨科病区")
    nurse = crm.create_user("pc02.nurse", ["nurse"], "WARD-ORTHOPEDICS", "骨科护士小周")
    return {"department": dept, "nurse": nurse}


def test_pc02_admission_visit_task_due_in_24h_assigned_to_ward_nurse(
    start: datetime, crm: Crm, ward: dict[str, int]
) -> None:
    admitted = start - timedelta(hours=2)
    stay = admit(crm, patient(crm, "林秀英"), "PC02-V001", admitted)
    crm.app.jobs.run_pending()
    [visit] = calls(crm, stay, "admission_visit")
    assert visit["due_at"].startswith(iso(admitted + timedelta(hours=24))), visit["due_at"]
    assert visit["status"] == "open" and visit["channel"] == "bedside"
    assert visit["staff"] == ward["nurse"], "the ward's nurse does the bedside visit"
    assert visit["department"] == ward["department"], "the visit belongs to the ward, so its nurses see it"
    assert "林秀英" in visit["title"]
    # the nurse sees it in her list of open admission visits (今日待入院回访), over HTTP
    r = crm.client("pc02.nurse").get(
        f"{API}/followup_call", params={"type": "admission_visit", "status__in": "open,overdue,escalated"}
    )
    assert visit["id"] in [c["id"] for c in ok(r)["items"]]
    # a replayed admission write does not create a second visit
    crm.app.records.update("admission", stay["id"], {"bed": "12A"}, crm_ctx(), expected_version=None)
    crm.app.jobs.run_pending()
    assert len(calls(crm, stay, "admission_visit")) == 1


def crm_ctx() -> Any:
    from tests.support.patient_crm import ADMIN

    return ADMIN


def test_pc02_admission_visit_overdue_then_escalated_to_supervisor(
    start: datetime, crm: Crm, ward: dict[str, int]
) -> None:
    admitted = start - timedelta(hours=1)
    who = patient(crm, "赵建国")
    stay = admit(crm, who, "PC02-V002", admitted)
    crm.app.jobs.run_pending()
    [visit] = calls(crm, stay, "admission_visit")
    due = admitted + timedelta(hours=24)
    at(crm, due - timedelta(minutes=5))
    assert crm.get("followup_call", visit["id"])["status"] == "open", "not yet due"
    at(crm, due + timedelta(minutes=10))
    overdue = crm.get("followup_call", visit["id"])
    assert overdue["status"] == "overdue"
    assert overdue["escalated_to"] is None
    assert notices(crm, "pc02.nurse", "回访已超时"), "the nurse is reminded"
    at(crm, due + timedelta(hours=3))
    assert crm.get("followup_call", visit["id"])["status"] == "overdue", "the 4-hour grace is not over"
    at(crm, due + timedelta(hours=4, minutes=5))
    escalated = crm.get("followup_call", visit["id"])
    assert escalated["status"] == "escalated"
    assert escalated["escalated_at"] is not None
    supervisors = {crm.uid("pc.supervisor1"), crm.uid("pc.supervisor2")}
    assert escalated["escalated_to"] in supervisors
    boss = next(u for u in ("pc.supervisor1", "pc.supervisor2") if crm.uid(u) == escalated["escalated_to"])
    assert notices(crm, boss, "回访超时升级"), "the supervisor is told"


def test_pc02_visit_done_in_time_is_never_escalated(start: datetime, crm: Crm, ward: dict[str, int]) -> None:
    admitted = start - timedelta(hours=3)
    stay = admit(crm, patient(crm, "钱丽华"), "PC02-V003", admitted)
    crm.app.jobs.run_pending()
    [visit] = calls(crm, stay, "admission_visit")
    nurse = crm.client("pc02.nurse")
    r = nurse.post(
        f"{API}/followup_call/{visit['id']}/actions/complete_admission_visit",
        json={"input": {"done_at": iso(start), "satisfaction": "satisfied", "pain_score": 2}},
    )
    ok(r)
    assert crm.get("followup_call", visit["id"])["status"] == "done"
    at(crm, admitted + timedelta(hours=30))
    after = crm.get("followup_call", visit["id"])
    assert after["status"] == "done" and after["escalated_to"] is None


def test_pc02_discharge_call_due_72h_after_discharge_and_escalated_after_a_day(
    start: datetime, crm: Crm, ward: dict
) -> None:
    admitted = start - timedelta(days=6)
    who = patient(crm, "孙美玲")
    stay = admit(crm, who, "PC02-V004", admitted)
    crm.app.jobs.run_pending()
    discharged = start - timedelta(hours=1)
    crm.app.records.update(
        "admission", stay["id"], {"discharged_at": iso(discharged), "status": "discharged"}, crm_ctx(),
        expected_version=None,
    )  # fmt: skip
    crm.app.jobs.run_pending()
    [call] = calls(crm, stay, "discharge_call")
    assert call["due_at"].startswith(iso(discharged + timedelta(hours=72))), call["due_at"]
    assert call["status"] == "open" and call["channel"] == "phone"
    assert call["staff"] == crm.uid("pc.officer1"), "the patient's officer makes the call"
    # the patient got the discharge SMS as a contact (not a user)
    sms = [d for d in deliveries(crm, "sms") if d["target"] == "13900001111" and "出院" in str(d["message"])]
    assert sms, "the discharge SMS went to the patient's phone"
    # HIS sends the discharge again (a replay): still one call
    crm.app.records.update("admission", stay["id"], {"bed": "3"}, crm_ctx(), expected_version=None)
    crm.app.jobs.run_pending()
    assert len(calls(crm, stay, "discharge_call")) == 1
    due = discharged + timedelta(hours=72)
    at(crm, due + timedelta(minutes=5))
    assert crm.get("followup_call", call["id"])["status"] == "overdue"
    assert notices(crm, "pc.officer1", "回访已超时")
    at(crm, due + timedelta(hours=20))
    assert crm.get("followup_call", call["id"])["status"] == "overdue", "a discharge call has 24 hours of grace"
    at(crm, due + timedelta(hours=24, minutes=5))
    escalated = crm.get("followup_call", call["id"])
    assert escalated["status"] == "escalated"
    assert escalated["escalated_to"] == crm.uid("pc.supervisor1"), "officer1's own team supervisor"
    assert notices(crm, "pc.supervisor1", "回访超时升级")


def deliveries(crm: Crm, channel: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from runtime.notify.tables import deliveries as table

    with crm.app.db.read() as conn:
        rows = conn.execute(sa.select(table).where(table.c.channel == channel)).all()
    return [dict(r._mapping) for r in rows]
