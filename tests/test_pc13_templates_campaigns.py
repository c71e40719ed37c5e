"""PC-13 (and the PC-07 pre-visit reminder): message templates with merge fields sent to patients as contacts
(not users): the appointment reminder the day before (the appointment becomes 'reminded'), the birthday
greeting on the birthday, the discharge SMS; opted-out patients get nothing; the target segments by disease,
ward and age list the right patients over HTTP. The shipped patient_crm pack on SQLite and PostgreSQL, rule
jobs through app.jobs.run_pending() with the fixed test clock moved forward."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from runtime.notify.tables import deliveries
from tests.support.patient_crm import NOW, Crm, crm_fixture, ok
from tests.test_notify_support import HttpRecorder, http_recorder

crm = crm_fixture()


@pytest.fixture(scope="module", autouse=True)
def gateway(crm: Crm) -> Iterator[HttpRecorder]:
    """The hospital's SMS gateway (a recording HTTP server: the one outside system faked)."""
    with http_recorder() as recorder:
        crm.app.params.set("notify.sms.url", recorder.url)
        yield recorder


@pytest.fixture
def start(crm: Crm) -> datetime:
    """This test's "now": 09:30 on the day after where the previous test left the clock (the date-rule scans
    only move forward, as real time does)."""
    moment = (max(crm.app.clock.now(), NOW) + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    at(crm, moment)
    return moment


def at(crm: Crm, moment: datetime) -> None:
    crm.app.clock.set(moment)
    crm.app.jobs.run_pending()


def patient(crm: Crm, name: str, phone: str, **extra: Any) -> dict[str, Any]:
    values = {"name": name, "gender": "female", "phone": phone, "department": crm.department("DEV-MKT-1"), **extra}
    return crm.create("patient", values)


def sms_to(crm: Crm, phone: str, kind: str) -> list[dict[str, Any]]:
    d = deliveries.c
    with crm.app.db.read() as conn:
        rows = conn.execute(sa.select(deliveries).where(d.channel == "sms", d.kind == kind, d.target == phone)).all()
    return [dict(r._mapping) for r in rows]


def text(delivery: dict[str, Any]) -> str:
    return str(delivery["message"].get("text") or delivery["message"])


def test_pc07_pc13_appointment_reminder_sent_the_day_before_and_marked_reminded(
    start: datetime, crm: Crm, gateway: HttpRecorder
) -> None:
    who = patient(crm, "何淑珍", "13800000701")
    scheduled = start + timedelta(hours=30)
    r = crm.client("pc.officer1").post(
        "/api/v1/records/appointment",
        json={"patient": who["id"], "channel": "phone", "ward": "cardiology", "doctor": "陈志明",
              "scheduled_at": scheduled.isoformat(), "staff": crm.uid("pc.officer1")},
    )  # fmt: skip
    booking = ok(r, 201)
    crm.app.jobs.run_pending()
    assert sms_to(crm, "13800000701", "pc_appointment_reminder") == [], "not yet: more than a day ahead"
    at(crm, scheduled - timedelta(hours=24) + timedelta(minutes=2))
    [sms] = sms_to(crm, "13800000701", "pc_appointment_reminder")
    assert sms["status"] == "sent", sms["last_error"]
    [sent] = [r.body for r in gateway.requests if r.body["to"] == "13800000701"]
    assert (
        "何淑珍" in sent["text"]
        and "陈志明" in sent["text"]
        and f"{scheduled.month}月{scheduled.day}日" in sent["text"]
    ), sent["text"]
    reminded = crm.get("appointment", booking["id"])
    assert reminded["status"] == "reminded" and reminded["reminded_at"] is not None
    at(crm, scheduled - timedelta(hours=2))
    assert len(sms_to(crm, "13800000701", "pc_appointment_reminder")) == 1, "one reminder only"


def test_pc13_opted_out_patient_gets_no_reminder(start: datetime, crm: Crm) -> None:
    who = patient(crm, "蒋美华", "13800000702", contact_opt_out=True)
    scheduled = start + timedelta(hours=26)
    crm.create("appointment", {"patient": who["id"], "channel": "web", "scheduled_at": scheduled.isoformat()})
    at(crm, scheduled - timedelta(hours=23))
    [sms] = sms_to(crm, "13800000702", "pc_appointment_reminder")
    assert sms["status"] == "skipped" and "not to be contacted" in (sms["last_error"] or "")


def test_pc13_birthday_greeting_on_the_birthday_only_for_those_who_want_it(start: datetime, crm: Crm) -> None:
    tomorrow = (start + timedelta(days=1)).date()
    patient(crm, "韩桂兰", "13800000703", birth_date=tomorrow.replace(year=1951).isoformat())
    patient(crm, "曹玉梅", "13800000704", birth_date=tomorrow.replace(year=1956).isoformat(), birthday_greetings=False)
    patient(crm, "彭秀云", "13800000705", birth_date=(tomorrow + timedelta(days=1)).replace(year=1960).isoformat())
    at(crm, datetime.combine(tomorrow, datetime.min.time()).replace(hour=9, minute=1))
    [greeting] = sms_to(crm, "13800000703", "pc_birthday_greeting")
    assert "韩桂兰" in text(greeting) and "生日快乐" in text(greeting)
    assert "退订" in text(greeting), "campaign-like messages carry the unsubscribe link"
    assert sms_to(crm, "13800000704", "pc_birthday_greeting") == [], "greetings turned off"
    assert sms_to(crm, "13800000705", "pc_birthday_greeting") == [], "not her birthday"


def test_pc13_discharge_sms_uses_merge_fields(start: datetime, crm: Crm) -> None:
    who = patient(crm, "金凤英", "13800000706", responsible_staff=crm.uid("pc.officer1"))
    stay = crm.create(
        "admission",
        {"visit_no": "PC13-V001", "patient": who["id"], "ward": "neurology",
         "admitted_at": (start - timedelta(days=5)).isoformat(), "status": "admitted"},
    )  # fmt: skip
    crm.app.records.update(
        "admission", stay["id"], {"discharged_at": (start - timedelta(minutes=30)).isoformat(), "status": "discharged"},
        ctx_admin(), expected_version=None,
    )  # fmt: skip
    crm.app.jobs.run_pending()
    [sms] = sms_to(crm, "13800000706", "pc_discharge_followup_sms")
    assert "金凤英" in text(sms) and "3 天内" in text(sms)
    # the discharge call reaches her: she is invited to the satisfaction survey
    [call] = crm.every("followup_call", admission=stay["id"], type="discharge_call")
    answers = {"done_at": start.isoformat(), "satisfaction": "satisfied", "nps": 9}
    r = crm.client("pc.supervisor1").post(
        f"/api/v1/records/followup_call/{call['id']}/actions/complete_discharge_call", json={"input": answers}
    )
    ok(r)
    crm.app.jobs.run_pending()
    [survey] = sms_to(crm, "13800000706", "pc_satisfaction_survey_invitation")
    assert "打分" in text(survey)


def ctx_admin() -> Any:
    from tests.support.patient_crm import ADMIN

    return ADMIN


def test_pc13_target_segments_by_disease_ward_and_age(start: datetime, crm: Crm) -> None:
    patient(crm, "孔德明", "13800000707", disease="diabetes", ward="endocrinology", birth_date="1950-03-02")
    patient(crm, "严丽娜", "13800000708", disease="hypertension", ward="cardiology", birth_date="1990-06-01")
    manager = crm.client("pc.manager")
    listed = {s["id"] for s in ok(manager.get("/api/v1/segments", params={"entity": "patient"}))["items"]}
    assert {"pc_elderly_60", "pc_chronic_disease", "pc_diabetes", "pc_cardiology_ward"} <= listed

    def names(segment: str) -> set[str]:
        page = ok(manager.get(f"/api/v1/segments/{segment}/records", params={"limit": 200}))
        return {p["name"] for p in page["items"]}

    assert "孔德明" in names("pc_diabetes") and "严丽娜" not in names("pc_diabetes")
    assert "严丽娜" in names("pc_cardiology_ward") and "孔德明" not in names("pc_cardiology_ward")
    assert "孔德明" in names("pc_elderly_60") and "严丽娜" not in names("pc_elderly_60")
    assert {"孔德明", "严丽娜"} <= names("pc_chronic_disease")
