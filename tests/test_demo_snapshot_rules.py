"""A demo file marked ``"snapshot": true`` already holds what the automation made of its records: they load
through the records service (validation, audit) without triggering record rules or starting follow-up plans,
while date rules still watch them; later writes trigger everything again (runtime/demo.py,
runtime/automation/pause.py).

The patient CRM demo relies on this: its admissions already carry their visit and discharge-call tasks, so
the rules that create those tasks (and text the patient) must not run again when the demo loads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runtime.blueprints import load_pack
from runtime.clock import FixedClock
from runtime.demo import BATCH, load_demo
from runtime.records.context import SYSTEM
from runtime.records.query import ListQuery
from runtime.services import Tessera
from runtime.storage.platform_tables import audit
from tests.support.packs import pack_variant

RULES_PACK = Path(__file__).parent / "packs" / "rules_pack"
TODAY = date(2026, 11, 23)  # the clock fixture's day


def _with_demo(docs: dict[str, Any]) -> None:
    snapshot = [{"name": "Snapshot", "end_date": str(TODAY + timedelta(days=31))}]
    snapshot += [{"name": f"Bulk {i}", "end_date": str(TODAY + timedelta(days=200))} for i in range(BATCH + 5)]
    docs["demo/01_contracts.json"] = {"entity": "contract", "snapshot": True, "records": snapshot}
    docs["demo/02_logs.json"] = {"entity": "rule_log", "records": [{"message": "kept", "kind": "note"}]}


def _audited(app: Tessera, entity: str) -> int:
    with app.db.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(audit).where(audit.c.entity == entity)).scalar_one()


def test_pl20_snapshot_demo_files_do_not_trigger_record_rules_but_date_rules_still_apply(
    make_tessera: Callable[..., Tessera], tmp_path: Path, clock: FixedClock
) -> None:
    path = pack_variant(RULES_PACK, tmp_path / "rules_pack", _with_demo)
    assert load_pack(path).demo[0]["snapshot"] is True, "the pack checker accepts the flag"
    app = make_tessera(str(path))
    app.jobs.run_pending()  # the first tick sets the date rules' watermark
    created = load_demo(app, app.registry.packs["rules_pack"])
    assert created == {"contract": 1 + BATCH + 5, "rule_log": 1}, "more than one batch (transaction) of records"
    app.jobs.run_pending()
    contracts = {c["name"]: c for c in app.records.list("contract", ListQuery(limit=1000), SYSTEM).items}
    assert {c["stage"] for c in contracts.values()} == {None}, "the create rule did not run for the snapshot"
    assert _audited(app, "contract") == len(contracts), "every demo record is audited like any write"
    # the snapshot's end dates are still watched: 30 days before the end the expiry rule fires
    clock.advance(days=1)
    app.jobs.run_pending()
    logs = [r for r in app.records.list("rule_log", ListQuery(limit=50), SYSTEM).items if r["kind"] == "expiry"]
    assert [r["ref_id"] for r in logs] == [contracts["Snapshot"]["id"]]
    # the flag lasts only while its file loads: later writes run the record rules again
    after = app.records.create("contract", {"name": "After"}, SYSTEM)
    app.jobs.run_pending()
    assert app.records.get("contract", after["id"], SYSTEM)["stage"] == "draft-After"


FOLLOWUP_PACK = Path(__file__).parent / "packs" / "followup_pack"


def _with_discharges(docs: dict[str, Any]) -> None:
    docs["demo/01_discharges.json"] = {
        "entity": "discharge",
        "snapshot": True,
        "records": [{"summary": "全膝关节置换术后出院", "disease": "joint_replacement", "discharge_date": "@date:-40"}],
    }


def test_pl20_snapshot_demo_files_start_no_follow_up_plans(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    """A discharge 40 days ago in the demo does not start its day-3/7/30 plan (its texts would go out now);
    a discharge written afterwards does."""
    from runtime.automation.followups.tables import followup_plans

    app = make_tessera(str(pack_variant(FOLLOWUP_PACK, tmp_path / "followup_pack", _with_discharges)))
    assert load_demo(app, app.registry.packs["followup_pack"]) == {"discharge": 1}

    def plans() -> int:
        with app.db.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(followup_plans)).scalar_one()

    assert plans() == 0
    later = {"summary": "出院", "disease": "joint_replacement", "discharge_date": str(TODAY)}
    app.records.create("discharge", later, SYSTEM)
    assert plans() == 1
