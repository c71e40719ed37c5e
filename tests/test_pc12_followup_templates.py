"""PC-12: follow-up templates by disease and surgery start at discharge (admission.discharged_at) according to
admission.surgery / admission.disease: joint replacement (day 3 SMS, day 7 education, day 30 nurse call work
order; pain >= 7 alerts the doctor), diabetes (diet education, glucose calls, 3-month review; fasting glucose
> 11.1 alerts), post-cardiac surgery (chest pain / breathlessness / wound red flags alert). Answers are saved as
a done follow-up call of the stay. The shipped patient_crm pack on SQLite and PostgreSQL, the SMS gateway a
recording HTTP server, jobs through app.jobs.run_pending() with the fixed clock moved forward."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from runtime.automation.followups.tables import followup_plans
from tests.support.patient_crm import NOW, Crm, crm_fixture, ok
from tests.test_notify_support import HttpRecorder, http_recorder

crm = crm_fixture()


@pytest.fixture(scope="module")
def gateway(crm: Crm) -> Iterator[HttpRecorder]:
    with http_recorder() as recorder:
        crm.app.params.set("notify.sms.url", recorder.url)
        yield recorder


@pytest.fixture(scope="module")
def doctor(crm: Crm) -> int:
    """The orthopaedic ward's doctor (alerts go to the doctors of the stay's ward) and a cardiologist."""
    crm.ward_department("WARD-ORTHOPEDICS", "骨科病区")
    crm.ward_department("WARD-CARDIOLOGY", "心内科病区")
    crm.create_user("pc12.cardio", ["doctor"], "WARD-CARDIOLOGY", "心内科 黄医生")
    return crm.create_user("pc12.doctor", ["doctor"], "WARD-ORTHOPEDICS", "骨科 陈医生")


def at(crm: Crm, moment: datetime) -> None:
    crm.app.clock.set(moment)
    crm.app.jobs.run_pending()


@pytest.fixture
def start(crm: Crm) -> datetime:
    """This test's discharge time: well after where the previous test left the clock (scans only move forward)."""
    moment = (max(crm.app.clock.now(), NOW) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    at(crm, moment)
    return moment


def discharge(crm: Crm, start: datetime, name: str, phone: str, **stay: Any) -> dict[str, Any]:
    """A stay of officer1's patient, discharged at ``start`` (as HIS would send A03)."""
    who = crm.create(
        "patient", {"name": name, "gender": "male", "phone": phone, "responsible_staff": crm.uid("pc.officer1")}
    )
    values = {
        "visit_no": f"PC12-{phone[-4:]}",
        "patient": who["id"],
        "ward": "orthopedics",
        "admitted_at": (start - timedelta(days=8)).isoformat(),
        "discharged_at": start.isoformat(),
        "status": "discharged",
        "responsible_staff": crm.uid("pc.officer1"),
        **stay,
    }
    made = crm.create("admission", values)
    crm.app.jobs.run_pending()
    return made


def texts_to(gateway: HttpRecorder, phone: str) -> list[str]:
    return [r.body["text"] for r in gateway.requests if r.body.get("to") == phone]


def work_items(crm: Crm, username: str, admission: dict[str, Any]) -> list[dict[str, Any]]:
    r = crm.client(username).get("/api/v1/work-items")
    return [i for i in ok(r)["items"] if i["entity"] == "admission" and i["record_id"] == admission["id"]]


def alerts(crm: Crm, username: str) -> list[str]:
    r = crm.client(username).get("/api/v1/notifications", params={"limit": 100})
    return [n.get("title") or "" for n in ok(r)["items"] if "随访异常" in (n.get("title") or "")]


def test_pc12_joint_replacement_day3_sms_day7_education_day30_call_and_pain_alert(
    start: datetime, crm: Crm, gateway: HttpRecorder, doctor: int
) -> None:
    stay = discharge(crm, start, "邓国强", "13600001201", surgery="joint_replacement")
    at(crm, start + timedelta(days=2))
    assert texts_to(gateway, "13600001201") == [], "nothing before day 3"
    at(crm, start + timedelta(days=3, minutes=1))
    [day3] = [t for t in texts_to(gateway, "13600001201") if "第 3 天" in t]
    assert "踝泵" in day3
    at(crm, start + timedelta(days=7, minutes=1))
    assert any("康复宣教" in t for t in texts_to(gateway, "13600001201")), "day 7 education content"
    assert work_items(crm, "pc.officer1", stay) == [], "the call comes on day 30"
    at(crm, start + timedelta(days=30, minutes=1))
    [item] = work_items(crm, "pc.officer1", stay)
    assert item["channel"] == "phone" and item["form"] == "pc_followup_joint_form"
    answers = {"done_at": (start + timedelta(days=30, hours=1)).isoformat(), "satisfaction": "satisfied",
               "pain_score": 8, "wound_ok": True, "notes": "夜间膝关节疼痛明显"}  # fmt: skip
    done = ok(crm.client("pc.officer1").post(f"/api/v1/work-items/{item['id']}/complete", json={"data": answers}))
    assert done["status"] == "done" and done["result_entity"] == "followup_call"
    crm.app.jobs.run_pending()
    call = crm.get("followup_call", done["result_id"])
    assert call["admission"] == stay["id"] and call["patient"] == stay["patient"]
    assert call["type"] == "template_followup" and call["pain_score"] == 8 and call["status"] == "done"
    assert any("邓国强" in t for t in alerts(crm, "pc12.doctor")), "pain 8 alerts the doctor"


def test_pc12_joint_replacement_low_pain_raises_no_alert(
    start: datetime, crm: Crm, gateway: HttpRecorder, doctor: int
) -> None:
    stay = discharge(crm, start, "谢文斌", "13600001202", surgery="joint_replacement")
    at(crm, start + timedelta(days=30, minutes=1))
    [item] = work_items(crm, "pc.officer1", stay)
    answers = {"done_at": (start + timedelta(days=30, hours=1)).isoformat(), "satisfaction": "satisfied",
               "pain_score": 3, "wound_ok": True}  # fmt: skip
    ok(crm.client("pc.officer1").post(f"/api/v1/work-items/{item['id']}/complete", json={"data": answers}))
    crm.app.jobs.run_pending()
    assert not any("谢文斌" in t for t in alerts(crm, "pc12.doctor"))


def test_pc12_diabetes_glucose_call_alerts_on_high_fasting_glucose(
    start: datetime, crm: Crm, gateway: HttpRecorder, doctor: int
) -> None:
    stay = discharge(crm, start, "罗秀英", "13600001203", disease="diabetes")
    at(crm, start + timedelta(days=2, minutes=1))
    assert any("糖尿病饮食宣教" in t for t in texts_to(gateway, "13600001203"))
    at(crm, start + timedelta(days=7, minutes=1))
    [item] = work_items(crm, "pc.officer1", stay)
    assert item["form"] == "pc_followup_diabetes_form"
    answers = {"done_at": (start + timedelta(days=7, hours=2)).isoformat(), "satisfaction": "satisfied",
               "fasting_glucose": 12.6}  # fmt: skip
    ok(crm.client("pc.officer1").post(f"/api/v1/work-items/{item['id']}/complete", json={"data": answers}))
    crm.app.jobs.run_pending()
    assert any("罗秀英" in t for t in alerts(crm, "pc12.doctor")), "12.6 > 11.1 alerts the doctor"
    at(crm, start + timedelta(days=90, minutes=1))
    reviews = work_items(crm, "pc12.doctor", stay)
    assert [i["channel"] for i in reviews] == ["review"], "the 3-month review is the doctor's"


def test_pc12_cardiac_surgery_red_flags_alert_the_doctor(
    start: datetime, crm: Crm, gateway: HttpRecorder, doctor: int
) -> None:
    stay = discharge(crm, start, "唐振华", "13600001204", surgery="cardiac_surgery", ward="cardiology")
    other = discharge(crm, start, "傅明", "13600001205", surgery="none")
    at(crm, start + timedelta(days=2, minutes=1))
    [item] = work_items(crm, "pc.officer1", stay)
    assert work_items(crm, "pc.officer1", other) == [], "no template for a stay without surgery or disease"
    answers = {"done_at": (start + timedelta(days=2, hours=1)).isoformat(), "satisfaction": "satisfied",
               "chest_pain": True, "short_of_breath": False, "wound_ok": True}  # fmt: skip
    ok(crm.client("pc.officer1").post(f"/api/v1/work-items/{item['id']}/complete", json={"data": answers}))
    crm.app.jobs.run_pending()
    assert any("唐振华" in t for t in alerts(crm, "pc12.cardio")), "chest pain is a red flag: the ward's doctor"
    assert not any("唐振华" in t for t in alerts(crm, "pc12.doctor")), "not another ward's doctor"


def test_pc12_an_old_discharge_loaded_from_history_starts_no_template(
    start: datetime, crm: Crm, gateway: HttpRecorder, doctor: int
) -> None:
    """A discharge three weeks ago (HIS history, demo data) starts nothing: no burst of late messages."""
    stay = discharge(crm, start - timedelta(days=21), "夏建平", "13600001206", surgery="joint_replacement")
    with crm.app.db.read() as conn:
        found = conn.execute(
            sa.select(followup_plans.c.id).where(
                followup_plans.c.entity == "admission", followup_plans.c.record_id == stay["id"]
            )
        ).all()
    assert found == []
    at(crm, start + timedelta(days=1))
    assert texts_to(gateway, "13600001206") == []
    assert crm.every("followup_call", admission=stay["id"]) == [], "nor a discharge call"
