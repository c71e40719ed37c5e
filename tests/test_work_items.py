"""Work items (PL-15, PC-02): tasks for one person outside BPMN, idempotent by key, completed with a form whose
answers become a record, escalated once past their SLA to the assignee and then to the manager."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from runtime.clock import FixedClock
from runtime.errors import Conflict, Forbidden, RecordInvalid
from runtime.services import Tessera
from tests.test_followups import Clinic, make_clinic


@pytest.fixture
def clinic(make_tessera: Callable[..., Tessera], clock: FixedClock) -> Clinic:
    return make_clinic(make_tessera, clock)


def _item(clinic: Clinic, key: str = "call:1", *, sla_hours: float | None = 4, discharge: int | None = None) -> int:
    with clinic.app.db.write() as conn:
        return clinic.app.work_items.create(
            conn,
            title="电话回访",
            assignee_id=clinic.users["nurse1"],
            due_at=datetime(2026, 11, 24, 9),
            key=key,
            entity="discharge" if discharge else None,
            record_id=discharge,
            form="followup_questionnaire",
            channel="phone",
            source="rule",
            sla_hours=sla_hours,
        )


def test_pl15_creating_a_work_item_twice_with_one_key_makes_one(clinic: Clinic) -> None:
    first, again = _item(clinic), _item(clinic)
    assert first == again
    assert [i["id"] for i in clinic.app.work_items.for_user(clinic.users["nurse1"])] == [first]
    item = clinic.app.work_items.get(first)
    assert item["sla_due_at"] == datetime(2026, 11, 24, 13) and item["status"] == "open"


def test_pl15_completing_saves_the_answers_as_a_record_linked_to_the_item(clinic: Clinic) -> None:
    discharge = clinic.discharge(disease="other")
    item_id = _item(clinic, discharge=discharge)
    with pytest.raises(Forbidden):
        clinic.app.work_items.complete(item_id, {"pain_score": 2}, clinic.ctx("doctor1"))
    with pytest.raises(RecordInvalid) as bad:
        clinic.app.work_items.complete(item_id, {"pain_score": 11}, clinic.ctx("nurse1"))
    assert bad.value.errors[0].field == "pain_score"
    assert clinic.app.work_items.get(item_id)["status"] == "open"  # nothing changed
    done = clinic.app.work_items.complete(item_id, {"pain_score": 2, "wound_ok": True}, clinic.ctx("nurse1"))
    assert (done["status"], done["completed_by"]) == ("done", clinic.users["nurse1"])
    answer = clinic.app.records.get("followup_answer", done["result_id"], clinic.ctx("admin"))
    assert answer["discharge"] == discharge and answer["wound_ok"] is True
    with pytest.raises(Conflict):
        clinic.app.work_items.complete(item_id, {"pain_score": 2}, clinic.ctx("nurse1"))


def test_pl15_managers_reassign_reschedule_and_cancel(clinic: Clinic) -> None:
    item_id = _item(clinic)
    items = clinic.app.work_items
    with pytest.raises(Forbidden):
        items.reschedule(item_id, datetime(2026, 11, 25, 9), clinic.ctx("doctor1"))
    moved = items.reschedule(item_id, datetime(2026, 11, 25, 9), clinic.ctx("headnurse"))
    assert moved["sla_due_at"] == datetime(2026, 11, 25, 13)
    items.reassign(item_id, clinic.users["headnurse"], clinic.ctx("nurse1"))  # the assignee hands it over
    assert items.for_user(clinic.users["nurse1"]) == []
    assert items.cancel(item_id, clinic.ctx("admin"))["status"] == "cancelled"
    assert items.for_user(clinic.users["headnurse"]) == []


def test_pc02_an_overdue_work_item_reminds_the_assignee_once_then_escalates_to_the_manager_once(
    clinic: Clinic,
) -> None:
    item_id = _item(clinic)
    app = clinic.app
    clinic.clock.set(datetime(2026, 11, 24, 12))
    app.jobs.run_pending()
    app.work_items.escalate_due()
    assert app.work_items.get(item_id)["status"] == "open"
    clinic.clock.set(datetime(2026, 11, 24, 13, 10))  # past the 4 h SLA
    app.jobs.run_pending()
    app.work_items.escalate_due()  # a second run (another worker, a retry) adds nothing
    assert app.work_items.get(item_id)["status"] == "overdue"
    assert len(clinic.notifications("nurse1", f"work-item:{item_id}:overdue")) == 1
    assert clinic.notifications("headnurse") == []
    clinic.clock.advance(hours=4)  # one more SLA period: the head nurse hears of it
    app.jobs.run_pending()
    app.work_items.escalate_due()
    assert len(clinic.notifications("headnurse", f"work-item:{item_id}:escalated")) == 1
    clinic.clock.advance(days=3)
    app.work_items.escalate_due()
    assert len(clinic.notifications("headnurse")) == 1 and len(clinic.notifications("nurse1")) == 1


def test_pc02_the_overdue_check_is_a_periodic_job(clinic: Clinic) -> None:
    item_id = _item(clinic, sla_hours=None)
    clinic.clock.set(datetime(2026, 11, 24, 9) + timedelta(minutes=10))
    clinic.app.jobs.run_pending()
    assert clinic.app.work_items.get(item_id)["status"] == "overdue"
    assert len(clinic.notifications("nurse1", "overdue")) == 1


def test_pl15_a_rule_work_item_without_form_completes_without_answers(clinic: Clinic) -> None:
    with clinic.app.db.write() as conn:
        item_id = clinic.app.work_items.create(
            conn, title="核对地址", assignee_id=clinic.users["nurse1"], due_at=None, key="check:address"
        )
    done = clinic.app.work_items.complete(item_id, None, clinic.ctx("nurse1"))
    assert done["status"] == "done" and done["result_id"] is None
    with clinic.app.db.read() as conn:
        assert conn.execute(sa.text("select count(*) from tessera_work_items")).scalar() == 1
