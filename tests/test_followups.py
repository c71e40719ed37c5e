"""Follow-up plans (PL-10, PC-02, PC-12): a discharge starts the day 3/7/30 timeline; the SMS goes once on day 3,
the nurse's call appears on day 7, a high pain score in the answers alerts the attending doctor; the plan
follows the discharge date and can be adjusted per patient. SQLite and PostgreSQL, FixedClock, real jobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from runtime.automation.followups.tables import followup_plans, followup_steps, work_items
from runtime.clock import FixedClock
from runtime.errors import BadRequest, Forbidden
from runtime.notify.tables import deliveries
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt

DISCHARGED = date(2026, 11, 23)
PASSWORD = "Follow-up-pass-2026"


@dataclass
class Clinic:
    app: Tessera
    clock: FixedClock
    users: dict[str, int]

    def ctx(self, username: str) -> Context:
        return Context(user_id=self.users[username], channel="ui", lang="zh", is_admin=username == "admin")

    def discharge(self, *, on: date | None = DISCHARGED, disease: str = "joint_replacement", **extra: Any) -> int:
        if "patient" not in extra:  # a patient with a mobile number, who gets the day-3 SMS
            extra["patient"] = self.app.records.create(
                "patient", {"name": "周阿姨", "mobile": "13700000000"}, self.ctx("admin")
            )["id"]
        data = {
            "summary": "全膝关节置换术后",
            "disease": disease,
            "discharge_date": on.isoformat() if on else None,
            "attending_doctor": self.users["doctor1"],
            **extra,
        }
        return self.app.records.create("discharge", data, self.ctx("doctor1"))["id"]

    def steps(self, discharge_id: int) -> dict[str, dict[str, Any]]:
        with self.app.db.read() as conn:
            plan = conn.execute(
                sa.select(followup_plans.c.id).where(
                    followup_plans.c.entity == "discharge", followup_plans.c.record_id == discharge_id
                )
            ).scalar()
            rows = conn.execute(sa.select(followup_steps).where(followup_steps.c.plan_instance_id == plan)).all()
        return {r.step_id: dict(r._mapping) for r in rows}

    def at(self, day: int, hour: int = 9) -> None:
        """Move the clock to discharge day + ``day`` at ``hour`` and run the jobs due by then."""
        self.clock.set(datetime(2026, 11, 23, hour) + timedelta(days=day))
        self.app.jobs.run_pending()

    def notifications(self, username: str, like: str = "") -> list[dict[str, Any]]:
        n = pt.notifications
        q = sa.select(n).where(n.c.user_id == self.users[username])
        if like:
            q = q.where(n.c.source.like(f"%{like}%"))
        with self.app.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def deliveries(self, key_like: str, channel: str) -> list[dict[str, Any]]:
        q = sa.select(deliveries).where(deliveries.c.key.like(key_like), deliveries.c.channel == channel)
        with self.app.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]


def make_clinic(make_tessera: Callable[..., Tessera], clock: FixedClock) -> Clinic:
    """The follow-up pack; a ward with nurse1 and her head nurse, the attending doctor and an administrator."""
    app = make_tessera("followup_pack")
    ids = {}
    for username, name, admin in (
        ("admin", "管理员", True),
        ("nurse1", "王护士", False),
        ("headnurse", "李护士长", False),
        ("doctor1", "张医生", False),
    ):
        ids[username] = app.users.create(username, name, PASSWORD, is_admin=admin).id
    with app.db.write() as conn:
        ward = conn.execute(sa.insert(pt.departments).values(name="骨科病区", sort=0)).inserted_primary_key[0]
        for username, role in (("nurse1", "nurse"), ("headnurse", "manager"), ("doctor1", "doctor")):
            conn.execute(sa.insert(pt.user_roles).values(user_id=ids[username], role_id=role))
            conn.execute(
                sa.update(pt.users)
                .where(pt.users.c.id == ids[username])
                .values(department_id=ward, phone="1380000000" + str(len(username) % 10))
            )
    return Clinic(app, clock, ids)


@pytest.fixture
def clinic(make_tessera: Callable[..., Tessera], clock: FixedClock) -> Clinic:
    return make_clinic(make_tessera, clock)


def test_pl10_pc12_a_discharge_creates_the_day_3_7_30_steps(clinic: Clinic) -> None:
    discharge = clinic.discharge()
    steps = clinic.steps(discharge)
    assert {k: (v["channel"], v["due_at"].date(), v["status"]) for k, v in steps.items()} == {
        "sms_day3": ("sms", date(2026, 11, 26), "pending"),
        "call_day7": ("phone", date(2026, 11, 30), "pending"),
        "review_day30": ("review", date(2026, 12, 23), "pending"),
    }
    clinic.app.records.update("discharge", discharge, {"summary": "改"}, clinic.ctx("doctor1"), expected_version=None)
    with clinic.app.db.read() as conn:  # one plan per (plan, record), however often the record is saved
        assert conn.execute(sa.select(sa.func.count()).select_from(followup_plans)).scalar() == 1


def test_pl10_a_plan_starts_only_where_it_applies_and_once_the_anchor_is_set(clinic: Clinic) -> None:
    other = clinic.discharge(disease="pneumonia")
    assert clinic.steps(other) == {}
    later = clinic.discharge(on=None)
    assert clinic.steps(later) == {}
    clinic.app.records.update(
        "discharge", later, {"discharge_date": "2026-11-24"}, clinic.ctx("doctor1"), expected_version=None
    )
    assert clinic.steps(later)["sms_day3"]["due_at"] == datetime(2026, 11, 27)


def test_pc12_day_3_sends_the_patient_the_sms_once_even_when_the_jobs_run_twice(clinic: Clinic) -> None:
    patient = clinic.app.records.create("patient", {"name": "赵大爷", "mobile": "13912345678"}, clinic.ctx("admin"))
    discharge = clinic.discharge(patient=patient["id"])
    step = clinic.steps(discharge)["sms_day3"]
    clinic.at(2)
    assert clinic.deliveries(f"followup-step:{step['id']}%", "sms") == []
    clinic.at(3)
    clinic.app.jobs.run_pending()
    sent = clinic.deliveries(f"followup-step:{step['id']}%", "sms")
    assert len(sent) == 1
    assert (sent[0]["target"], sent[0]["user_id"]) == ("13912345678", 0)  # the patient, not a staff member
    assert sent[0]["key"] == f"followup-step:{step['id']}|patient:{patient['id']}"
    assert "出院第3天" in sent[0]["message"]["text"]
    assert clinic.steps(discharge)["sms_day3"]["status"] == "sent"
    assert clinic.app.work_items.for_user(clinic.users["nurse1"]) == []  # no human step yet


def test_pc12_a_patient_who_refuses_sms_or_has_no_number_gets_none(clinic: Clinic) -> None:
    ctx = clinic.ctx("admin")
    refuses = clinic.app.records.create("patient", {"name": "钱女士", "mobile": "13800001111", "no_sms": True}, ctx)
    no_number = clinic.app.records.create("patient", {"name": "孙先生"}, ctx)
    first, second = clinic.discharge(patient=refuses["id"]), clinic.discharge(patient=no_number["id"])
    clinic.at(3)
    (skipped,) = clinic.deliveries(f"followup-step:{clinic.steps(first)['sms_day3']['id']}%", "sms")
    assert (skipped["status"], skipped["last_error"]) == ("skipped", "the person asked not to be contacted")
    assert clinic.deliveries(f"followup-step:{clinic.steps(second)['sms_day3']['id']}%", "sms") == []
    assert clinic.steps(second)["sms_day3"]["status"] == "skipped"


def test_pc12_day_7_puts_the_nurse_call_in_her_inbox_and_pain_8_alerts_the_doctor(clinic: Clinic) -> None:
    discharge = clinic.discharge()
    clinic.at(7)
    items = clinic.app.work_items.for_user(clinic.users["nurse1"])
    assert [(i["channel"], i["form"], i["entity"], i["record_id"]) for i in items] == [
        ("phone", "followup_questionnaire", "discharge", discharge)
    ]
    assert clinic.steps(discharge)["call_day7"]["status"] == "open"
    clinic.app.jobs.run_pending()
    assert len(clinic.app.work_items.for_user(clinic.users["nurse1"])) == 1

    done = clinic.app.work_items.complete(items[0]["id"], {"pain_score": 8, "notes": "夜间疼痛"}, clinic.ctx("nurse1"))
    assert done["status"] == "done" and done["result_entity"] == "followup_answer"
    answer = clinic.app.records.get("followup_answer", done["result_id"], clinic.ctx("admin"))
    assert answer["pain_score"] == 8 and answer["discharge"] == discharge  # linked to the discharge it follows
    alerts = clinic.notifications("doctor1", "followup-alert")
    assert len(alerts) == 1 and "疼痛" in alerts[0]["title"]
    assert clinic.steps(discharge)["call_day7"]["alerts"][0]["id"] == "pain"
    assert clinic.app.work_items.for_user(clinic.users["nurse1"]) == []


def test_pc12_pain_3_does_not_alert_the_doctor(clinic: Clinic) -> None:
    discharge = clinic.discharge()
    clinic.at(7)
    item = clinic.app.work_items.for_user(clinic.users["nurse1"])[0]
    clinic.app.work_items.complete(item["id"], {"pain_score": 3}, clinic.ctx("nurse1"))
    assert clinic.notifications("doctor1", "followup-alert") == []
    assert clinic.steps(discharge)["call_day7"]["status"] == "done"


def test_pc12_day_30_review_goes_to_the_attending_doctor(clinic: Clinic) -> None:
    discharge = clinic.discharge()
    clinic.at(30)
    review = clinic.app.work_items.for_user(clinic.users["doctor1"])
    assert [(i["channel"], i["record_id"]) for i in review] == [("review", discharge)]


def test_pl10_changing_the_discharge_date_moves_the_pending_steps(clinic: Clinic) -> None:
    discharge = clinic.discharge()
    clinic.at(3)  # the SMS went out: it stays where it was
    clinic.app.records.update(
        "discharge", discharge, {"discharge_date": "2026-11-25"}, clinic.ctx("doctor1"), expected_version=None
    )
    steps = clinic.steps(discharge)
    assert steps["sms_day3"]["status"] == "sent" and steps["sms_day3"]["due_at"] == datetime(2026, 11, 26)
    assert steps["call_day7"]["due_at"] == datetime(2026, 12, 2)
    assert steps["review_day30"]["due_at"] == datetime(2026, 12, 25)
    clinic.at(7)  # the old day-7 job finds the step moved and does nothing
    assert clinic.app.work_items.for_user(clinic.users["nurse1"]) == []
    clinic.at(9)
    assert len(clinic.app.work_items.for_user(clinic.users["nurse1"])) == 1


def test_pl10_a_step_moved_by_hand_keeps_its_date_and_fires_then(clinic: Clinic) -> None:
    discharge = clinic.discharge()
    step = clinic.steps(discharge)["call_day7"]
    instance = step["plan_instance_id"]
    clinic.app.followups.adjust.apply(
        instance, "move", {"step": step["id"], "due_at": "2026-11-28T10:00"}, clinic.ctx("doctor1")
    )
    clinic.app.records.update(
        "discharge", discharge, {"discharge_date": "2026-11-22"}, clinic.ctx("doctor1"), expected_version=None
    )
    assert clinic.steps(discharge)["call_day7"]["due_at"] == datetime(2026, 11, 28, 10)
    clinic.at(5, hour=9)
    assert clinic.app.work_items.for_user(clinic.users["nurse1"]) == []
    clinic.at(5, hour=11)
    assert len(clinic.app.work_items.for_user(clinic.users["nurse1"])) == 1
    with clinic.app.db.read() as conn:
        history = conn.execute(sa.select(followup_plans.c.history).where(followup_plans.c.id == instance)).scalar()
    moved = [h for h in history if h["action"] == "move"]
    assert moved and moved[0]["by"] == clinic.users["doctor1"] and moved[0]["step"] == "call_day7"


def test_pl10_per_patient_adjustments_reassign_skip_add_and_stop(clinic: Clinic) -> None:
    discharge = clinic.discharge()
    steps = clinic.steps(discharge)
    instance = steps["sms_day3"]["plan_instance_id"]
    adjust, doctor = clinic.app.followups.adjust, clinic.ctx("doctor1")
    adjust.apply(instance, "skip", {"step": steps["sms_day3"]["id"]}, doctor)
    adjust.apply(instance, "reassign", {"step": steps["call_day7"]["id"], "user_id": clinic.users["headnurse"]}, doctor)
    adjust.apply(
        instance,
        "add",
        {"label": "第14天家访", "channel": "visit", "due_at": "2026-12-07T09:00", "user_id": clinic.users["nurse1"]},
        doctor,
    )
    clinic.at(7)
    assert clinic.deliveries(f"followup-step:{steps['sms_day3']['id']}", "sms") == []
    assert [i["channel"] for i in clinic.app.work_items.for_user(clinic.users["headnurse"])] == ["phone"]
    clinic.at(14)
    assert [i["channel"] for i in clinic.app.work_items.for_user(clinic.users["nurse1"])] == ["visit"]
    adjust.apply(instance, "stop", {}, doctor)
    assert clinic.app.work_items.for_user(clinic.users["nurse1"]) == []  # its open work item is cancelled
    assert clinic.steps(discharge)["review_day30"]["status"] == "cancelled"
    clinic.at(30)
    assert clinic.app.work_items.for_user(clinic.users["doctor1"]) == []


def test_pl10_adjustments_refuse_bad_input_and_outsiders(clinic: Clinic) -> None:
    discharge = clinic.discharge()
    steps = clinic.steps(discharge)
    instance = steps["sms_day3"]["plan_instance_id"]
    adjust = clinic.app.followups.adjust
    with pytest.raises(BadRequest, match="due_at"):
        adjust.apply(instance, "move", {"step": steps["sms_day3"]["id"], "due_at": "next week"}, clinic.ctx("doctor1"))
    with pytest.raises(BadRequest, match="channel"):
        adjust.apply(instance, "add", {"label": "x", "channel": "fax", "due_at": "2026-12-01"}, clinic.ctx("doctor1"))
    with pytest.raises(BadRequest, match="unknown action"):
        adjust.apply(instance, "explode", {}, clinic.ctx("doctor1"))
    with pytest.raises(Forbidden):  # the nurse reads discharges but may not change them
        adjust.apply(instance, "skip", {"step": steps["sms_day3"]["id"]}, clinic.ctx("nurse1"))


def test_pl10_an_invalid_plan_is_refused_with_file_and_pointer(tmp_path: Any) -> None:
    import json
    import shutil
    from pathlib import Path

    from runtime.blueprints import load_pack
    from runtime.blueprints.errors import PackInvalid

    pack = tmp_path / "followup_pack"
    shutil.copytree(Path(__file__).parent / "packs" / "followup_pack", pack)
    doc = json.loads((pack / "followups" / "joint_replacement.json").read_text("utf-8"))
    doc["anchor"] = "summary"
    doc["steps"][1]["alerts"][0]["when"] = "pain >= 7"
    doc["steps"][2]["assignee"] = {"field": "disease"}
    (pack / "followups" / "joint_replacement.json").write_text(json.dumps(doc), "utf-8")
    with pytest.raises(PackInvalid) as failed:
        load_pack(pack)
    text = "\n".join(str(e) for e in failed.value.errors)
    assert "followups/joint_replacement.json /anchor: anchor 'summary' is a text field" in text
    assert "/steps/1/alerts/0/when: unknown variable 'pain'" in text
    assert "/steps/2/assignee/field: field 'disease' is a text field, not a user field" in text


def test_pl23_followup_tables_match_their_migration(clinic: Clinic) -> None:
    inspector = sa.inspect(clinic.app.db.engine)
    for table in (work_items, followup_plans, followup_steps):
        live = {c["name"] for c in inspector.get_columns(table.name)}
        assert live == set(table.columns.keys()), f"{table.name} drifted from its migration"
