"""Automation rules (PL-09): record triggers, failures that never touch the triggering write, events,
workflows. Every test runs on SQLite and PostgreSQL; jobs run through app.jobs.run_pending()."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from runtime.automation.rules.tables import rule_runs
from runtime.clock import FixedClock
from runtime.records.context import SYSTEM, Context
from runtime.records.query import ListQuery
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.conftest import PACKS

API = Context(channel="api", lang="en", is_admin=True)


def logs(app: Tessera, kind: str | None = None) -> list[dict]:
    page = app.records.list("rule_log", ListQuery(limit=200), SYSTEM)
    return [r for r in page.items if kind is None or r["kind"] == kind]


def runs(app: Tessera, rule_id: str) -> list[dict]:
    with app.db.read() as conn:
        rows = conn.execute(sa.select(rule_runs).where(rule_runs.c.rule_id == rule_id).order_by(rule_runs.c.id))
        return [dict(r._mapping) for r in rows]


def test_pl09_on_create_rule_sets_a_field_through_a_job(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("rules_pack")
    created = app.records.create("contract", {"name": "Acme"}, API)
    assert created["stage"] is None  # the rule runs after the write, as a job
    app.jobs.run_pending()
    after = app.records.get("contract", created["id"], SYSTEM)
    assert after["stage"] == "draft-Acme"
    assert after["version"] == 2
    assert [r["status"] for r in runs(app, "contract_created")] == ["ok"]
    big = app.records.create("contract", {"name": "Big", "amount": 5_000_000}, API)  # condition false
    app.jobs.run_pending()
    assert app.records.get("contract", big["id"], SYSTEM)["stage"] is None


def test_pl09_field_change_rule_sees_before_and_after(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("rules_pack")
    c = app.records.create("contract", {"name": "Acme"}, API)
    app.jobs.run_pending()
    app.records.update("contract", c["id"], {"amount": 5}, API, expected_version=None)  # not the watched field
    app.jobs.run_pending()
    assert logs(app, "status") == []
    app.records.update("contract", c["id"], {"status": "active"}, API, expected_version=None)
    app.records.update("contract", c["id"], {"status": "paused"}, API, expected_version=None)
    app.jobs.run_pending()
    assert sorted(r["message"] for r in logs(app, "status")) == ["status - -> active", "status active -> paused"]


def test_pl09_failing_rule_is_logged_retried_and_leaves_the_triggering_record_intact(
    make_tessera: Callable[..., Tessera], clock: FixedClock
) -> None:
    app = make_tessera("rules_pack")
    c = app.records.create("contract", {"name": "Acme"}, API)
    app.jobs.run_pending()
    saved = app.records.update("contract", c["id"], {"amount": 13}, API, expected_version=None)
    assert saved["amount"] == 13  # the write succeeded although its rule will fail
    app.jobs.run_pending()
    failed = runs(app, "contract_boom")
    assert len(failed) == 1 and failed[0]["status"] == "failed" and failed[0]["attempts"] == 1
    assert "name" in failed[0]["error"]  # set_fields name=None: the required field's error
    assert failed[0]["entity"] == "contract" and failed[0]["record_id"] == c["id"]
    record = app.records.get("contract", c["id"], SYSTEM)
    assert record["name"] == "Acme" and record["amount"] == 13
    assert [r for r in logs(app) if r["message"] == "unlucky"] == []  # the run's first action rolled back too
    clock.advance(minutes=5)  # the jobs layer retries later
    app.jobs.run_pending()
    again = runs(app, "contract_boom")
    assert again[0]["attempts"] == 2 and again[0]["status"] == "failed"
    assert app.records.get("contract", c["id"], SYSTEM)["name"] == "Acme"


def test_pl09_inbound_event_triggers_its_rules(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("rules_pack")
    assert app.automation.emit("payment.received", {"amount": 120, "payer": "Acme"}) == 1
    assert app.automation.emit("payment.received", {"amount": 0, "payer": "Nobody"}) == 0  # condition false
    assert app.automation.emit("unknown.event", {}) == 0
    app.jobs.run_pending()
    assert [r["message"] for r in logs(app, "payment")] == ["paid 120 by Acme"]


def test_pl09_start_workflow_action_starts_a_process_on_the_record(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("rules_pack")
    plain = app.records.create("lead", {"name": "Walk-in", "source": "web"}, API)
    vip = app.records.create("lead", {"name": "Big hospital", "source": "vip"}, API)
    app.jobs.run_pending()
    with app.db.read() as conn:
        rows = conn.execute(sa.select(pt.wf_instances).where(pt.wf_instances.c.process_id == "lead_review")).all()
    assert [(r.entity, r.record_id) for r in rows] == [("lead", vip["id"])]
    assert plain["id"] != vip["id"]
    app.jobs.run_pending()  # a replayed run does not start a second instance
    with app.db.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(pt.wf_instances)).scalar()
    assert n == 1


def test_pl09_cron_rule_acts_on_each_matching_record_once_per_occurrence(
    make_tessera: Callable[..., Tessera], clock: FixedClock
) -> None:
    app = make_tessera("rules_pack")  # the clock reads 09:30; the rule runs at 08:00 every day
    active = app.records.create("contract", {"name": "Active", "status": "active"}, API)
    app.records.create("contract", {"name": "Draft", "status": "draft"}, API)
    app.jobs.run_pending()  # first tick: the rule's schedule starts now, no catching up
    assert logs(app, "daily") == []
    clock.advance(hours=23)  # 08:30 next day
    app.jobs.run_pending()
    app.jobs.run_pending()
    assert [r["ref_id"] for r in logs(app, "daily")] == [active["id"]]
    clock.advance(hours=2)
    app.jobs.run_pending()
    assert len(logs(app, "daily")) == 1
    clock.advance(days=1)
    app.jobs.run_pending()
    assert len(logs(app, "daily")) == 2


def test_pl09_notify_action_reaches_a_contact_who_is_not_a_user(make_tessera: Callable[..., Tessera]) -> None:
    from runtime.notify.tables import deliveries

    app = make_tessera("rules_pack")
    lead = app.records.create("lead", {"name": "城东社区卫生服务中心", "contact_phone": "13611112222"}, API)
    app.records.create("lead", {"name": "无联系人"}, API)  # the condition keeps it quiet
    app.jobs.run_pending()
    with app.db.read() as conn:
        rows = conn.execute(sa.select(deliveries).where(deliveries.c.channel == "sms")).mappings().all()
    assert [(r["target"], r["user_id"]) for r in rows] == [("13611112222", 0)]
    assert rows[0]["key"].endswith(f"|lead:{lead['id']}")
    assert rows[0]["message"]["text"].startswith("城东社区卫生服务中心，感谢您")


def test_pl09_a_contact_naming_a_missing_field_is_refused_at_validation(tmp_path: Path) -> None:
    import shutil

    from runtime.blueprints.errors import PackInvalid
    from runtime.blueprints.loader import load_pack

    pack = tmp_path / "rules_pack"
    shutil.copytree(PACKS / "rules_pack", pack)
    rule = pack / "rules" / "lead_thanks.json"
    rule.write_text(rule.read_text().replace('"phone": "contact_phone"', '"phone": "hospital.phone"'))
    with pytest.raises(PackInvalid) as caught:
        load_pack(pack)
    (error,) = [e for e in caught.value.errors if e.file == "rules/lead_thanks.json"]
    assert error.pointer == "/actions/0/recipients/0/contact" and "no field 'hospital'" in error.message
