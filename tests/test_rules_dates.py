"""Date-relative rules (PL-09): "30 days before a contract's end date" is found by an index range scan
with a per-rule watermark and fires once per (rule, record, date value), across scans and restarts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import sqlalchemy as sa

from runtime.clock import FixedClock
from runtime.records.context import SYSTEM, Context
from runtime.records.query import ListQuery
from runtime.services import Tessera

API = Context(channel="api", lang="en", is_admin=True)
TODAY = date(2026, 11, 23)  # the clock fixture's day


def expiry_logs(app: Tessera) -> list[dict]:
    page = app.records.list("rule_log", ListQuery(limit=200), SYSTEM)
    return [r for r in page.items if r["kind"] == "expiry"]


def test_pl09_contract_expiring_in_30_days_fires_exactly_once_across_scans_and_a_restart(
    make_tessera: Callable[..., Tessera], clock: FixedClock
) -> None:
    app = make_tessera("rules_pack")
    app.jobs.run_pending()  # the first tick sets the watermark
    soon = app.records.create("contract", {"name": "Soon", "end_date": str(TODAY + timedelta(days=31))}, API)
    later = app.records.create("contract", {"name": "Later", "end_date": str(TODAY + timedelta(days=90))}, API)
    app.jobs.run_pending()
    assert expiry_logs(app) == []  # 31 days away: not yet
    clock.advance(days=1)
    app.jobs.run_pending()
    assert [r["ref_id"] for r in expiry_logs(app)] == [soon["id"]]
    clock.advance(minutes=5)  # a second scan covers the same day
    app.jobs.run_pending()
    restarted = make_tessera()  # another process on the same database (a restarted worker)
    clock.advance(hours=3)
    restarted.jobs.run_pending()
    app.jobs.run_pending()
    assert [r["ref_id"] for r in expiry_logs(restarted)] == [soon["id"]]
    # a changed date fires again when its own window comes
    app.records.update(
        "contract", soon["id"], {"end_date": str(TODAY + timedelta(days=61))}, API, expected_version=None
    )
    app.jobs.run_pending()
    assert len(expiry_logs(app)) == 1
    clock.advance(days=30)
    app.jobs.run_pending()
    messages = sorted(r["message"] for r in expiry_logs(app))
    assert messages == [
        f"expiring Soon on {TODAY + timedelta(days=31)}",
        f"expiring Soon on {TODAY + timedelta(days=61)}",
    ]
    assert later["id"] not in [r["ref_id"] for r in expiry_logs(app)]


def test_pl09_contract_written_inside_its_window_fires_at_once_and_closed_ones_never(
    make_tessera: Callable[..., Tessera], clock: FixedClock
) -> None:
    app = make_tessera("rules_pack")
    app.jobs.run_pending()
    inside = app.records.create("contract", {"name": "Ten days", "end_date": str(TODAY + timedelta(days=10))}, API)
    app.records.create(
        "contract", {"name": "Closed", "status": "closed", "end_date": str(TODAY + timedelta(days=5))}, API
    )
    app.records.create("contract", {"name": "Ended", "end_date": str(TODAY - timedelta(days=40))}, API)
    app.jobs.run_pending()
    clock.advance(days=2)
    app.jobs.run_pending()
    assert [r["ref_id"] for r in expiry_logs(app)] == [inside["id"]]


def test_pl09_a_before_reminder_is_not_sent_once_its_date_has_come(
    make_tessera: Callable[..., Tessera], clock: FixedClock
) -> None:
    """'30d before end_date' for a contract written on its last day tells nobody it ends in the future; the
    day is the hospital's (09:30 UTC is 17:30 in Shanghai; at 23:30 UTC it is already the next day there)."""
    app = make_tessera("rules_pack")
    app.jobs.run_pending()
    app.records.create("contract", {"name": "Today", "end_date": str(TODAY)}, API)
    tomorrow = app.records.create("contract", {"name": "Tomorrow", "end_date": str(TODAY + timedelta(days=1))}, API)
    app.jobs.run_pending()
    assert [r["ref_id"] for r in expiry_logs(app)] == [tomorrow["id"]]
    clock.advance(hours=14)  # 23:30 UTC: 07:30 on the 24th in the hospital
    app.records.create("contract", {"name": "Local today", "end_date": str(TODAY + timedelta(days=1))}, API)
    app.jobs.run_pending()
    assert [r["ref_id"] for r in expiry_logs(app)] == [tomorrow["id"]]


def test_pl09_date_trigger_field_has_the_index_the_scan_uses(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("rules_pack")
    index_names = {ix["name"] for ix in sa.inspect(app.db.engine).get_indexes("e_contract")}
    assert any("end_date" in name for name in index_names), index_names  # "indexed": true, required by the check
