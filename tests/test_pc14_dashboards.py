"""PC-14: statistics dashboards — channel analysis, follow-up coverage, satisfaction trend and referral volume,
weekly/monthly/quarterly/yearly with YoY and MoM; one dashboard per role (officer, manager, president).

The shipped pack on SQLite and PostgreSQL behind a live server, demo organisation only. The test makes
patients (sources, referrers, admission months), discharge calls and today's work over the API and the
records service; every number, YoY and MoM value read over HTTP is compared with a count computed here
from the records made. The role dashboards are read by their demo users and, in Chromium, on a desktop
and a phone screen.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from tests.support.patient_crm import ADMIN, Crm, crm_fixture, ok
from tests.support.pc_stats import call, iso, patient, rows_by, run

crm = crm_fixture()
ADMISSIONS = [  # admitted (local), source; referral ones get a referrer
    (datetime(2025, 10, 15, 10), "referral"),
    (datetime(2025, 10, 16, 10), "walk_in"),
    (datetime(2026, 9, 10, 10), "walk_in"),
    (datetime(2026, 9, 11, 10), "walk_in"),
    (datetime(2026, 10, 5, 10), "referral"),
    (datetime(2026, 10, 12, 10), "referral"),
    (datetime(2026, 10, 20, 10), "referral"),
    (datetime(2026, 10, 21, 10), "walk_in"),
    (datetime(2026, 10, 22, 10), "walk_in"),
    (datetime(2026, 10, 23, 10), "fc_lecture"),
]
TOP = {"referral": "referral", "walk_in": "walk_in", "fc_lecture": "free_clinic"}
"""Top level of the patient-source tree (a lecture is a free clinic)."""
CALLS = [  # discharge calls: due (local), status, satisfaction
    (datetime(2026, 9, 14, 10), "done", "satisfied"),
    (datetime(2026, 9, 15, 10), "done", "satisfied"),
    (datetime(2026, 10, 8, 10), "done", "satisfied"),
    (datetime(2026, 10, 9, 10), "done", "satisfied"),
    (datetime(2026, 10, 10, 10), "done", "satisfied"),
    (datetime(2026, 10, 11, 10), "done", "unsatisfied"),
    (datetime(2026, 10, 12, 10), "overdue", None),
    (datetime(2025, 10, 12, 10), "done", "unsatisfied"),
]
TWO_MONTHS = {"from": "2026-09-01", "to": "2026-10-31", "grain": "month"}


def month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


@pytest.fixture(scope="module")
def world(crm: Crm) -> dict[str, Any]:
    referrer = crm.create("referrer", {"name": "测试客情人", "officer": crm.uid("pc.officer1"), "grade": "silver"})
    for i, (admitted, source) in enumerate(ADMISSIONS):
        extra = {"referrer": referrer["id"]} if source == "referral" else {}
        patient(crm, f"渠道患者{i}", "cardiology", source=source, admitted_at=iso(admitted), **extra)
    who = patient(crm, "回访患者", "cardiology")
    for due, status, satisfaction in CALLS:
        if status == "done":
            call(crm, who, "cardiology", due, done=due.replace(hour=15), satisfaction=satisfaction)
        else:
            made = call(crm, who, "cardiology", due)
            crm.app.records.update("followup_call", made["id"], {"status": status}, ADMIN, expected_version=None)
    today = call(crm, who, "cardiology", datetime(2026, 11, 23, 14, 0))  # due later today, open
    return {"referrer": referrer, "today": today}


def test_pc14_channel_analysis_month_by_month_with_yoy_and_mom(crm: Crm, world: dict[str, Any]) -> None:
    counts = Counter((TOP[source], month(admitted)) for admitted, source in ADMISSIONS)
    rows = rows_by(run(crm.client("pc.analyst"), "pc_channels", **TWO_MONTHS), "source", with_period=True)
    for top in ("referral", "walk_in", "free_clinic"):
        for m, last_month, last_year in (("2026-10", "2026-09", "2025-10"), ("2026-09", "2026-08", "2025-09")):
            row = rows.get((top, m))
            if row is None:  # a channel without any patient in the range is not listed
                assert counts[(top, m)] == 0 and not any(counts[(top, x)] for x in ("2026-09", "2026-10"))
                continue
            assert row["patients"] == counts[(top, m)], (top, m)
            assert row["patients__mom"] == counts[(top, last_month)], (top, m)
            assert row["patients__yoy"] == counts[(top, last_year)], (top, m)
    october = rows[("referral", "2026-10")]
    assert october["patients__yoy_pct"] == round((3 - 1) * 100 / 1, 1) == 200.0
    assert october["patients__mom_pct"] is None, "no referrals in September: no MoM percentage"
    assert rows[("walk_in", "2026-10")]["patients__mom_pct"] == 0.0


def test_pc14_referral_volume_weekly_monthly_quarterly_yearly(crm: Crm, world: dict[str, Any]) -> None:
    analyst = crm.client("pc.analyst")
    referred = [a for a, source in ADMISSIONS if source == "referral"]
    by_month = rows_by(run(analyst, "pc_referral_volume", **TWO_MONTHS), "referrer", with_period=True)
    october = by_month[(None, "2026-10")]
    assert october["referred"] == sum(month(a) == "2026-10" for a in referred) == 3
    assert october["referred__yoy"] == sum(month(a) == "2025-10" for a in referred) == 1
    assert october["referred__yoy_pct"] == 200.0 and october["referred__mom"] == 0
    quarter = rows_by(run(analyst, "pc_referral_volume", grain="quarter", period="this_year"), "referrer", True)
    assert quarter[(None, "2026-10")]["referred"] == sum(a >= datetime(2026, 10, 1) for a in referred)
    assert quarter[(None, "2026-10")]["referred__yoy"] == sum(
        datetime(2025, 10, 1) <= a < datetime(2026, 1, 1) for a in referred
    )
    year = rows_by(run(analyst, "pc_referral_volume", grain="year", period="this_year"), "referrer", True)
    assert year[(None, "2026-01")]["referred"] == sum(a.year == 2026 for a in referred)
    weeks = run(analyst, "pc_referral_volume", grain="week", **{"from": "2026-10-01", "to": "2026-10-31"})
    week_rows = [r for r in weeks["rows"] if r["level"] == "row"]
    assert sum(r["values"]["referred"] for r in week_rows) == 3 and len(week_rows) == 5, "ISO weeks of October"
    by_ref = rows_by(
        run(analyst, "pc_referral_volume", referrer=str(world["referrer"]["id"]), **TWO_MONTHS), "referrer", True
    )
    assert by_ref[(str(world["referrer"]["id"]), "2026-10")]["referred"] == 3, "the drill-down names the referrer"


def test_pc14_follow_up_coverage_and_satisfaction_trend(crm: Crm, world: dict[str, Any]) -> None:
    analyst = crm.client("pc.analyst")
    due = [(month(d), s) for d, s, _ in CALLS]
    cover = rows_by(run(analyst, "pc_coverage_trend", **TWO_MONTHS), "ward", with_period=True)

    def coverage(m: str) -> float:
        done = sum(1 for x, s in due if x == m and s == "done")
        return round(done * 100 / sum(1 for x, _ in due if x == m), 1)

    assert cover[(None, "2026-10")]["coverage"] == coverage("2026-10") == 80.0
    assert cover[(None, "2026-10")]["coverage__mom"] == coverage("2026-09") == 100.0
    assert cover[(None, "2026-10")]["coverage__mom_pct"] == -20.0, "a rate changes in points"
    assert cover[(None, "2026-10")]["coverage__yoy"] == coverage("2025-10") == 100.0
    assert cover[(None, "2026-10")]["discharges"] == 5, "the open call due today is not due yet in October"
    trend = rows_by(run(analyst, "pc_satisfaction_trend", **TWO_MONTHS), "ward", with_period=True)
    answered = [(month(d), s) for d, _, s in CALLS if s]

    def satisfied(m: str) -> float:
        mine = [s for x, s in answered if x == m]
        return round(sum(s == "satisfied" for s in mine) * 100 / len(mine), 1)

    october = trend[(None, "2026-10")]
    assert october["satisfied_rate"] == satisfied("2026-10") == 75.0
    assert october["satisfied_rate__mom"] == satisfied("2026-09") == 100.0
    assert october["satisfied_rate__yoy"] == satisfied("2025-10") == 0.0
    assert october["satisfied_rate__yoy_pct"] == 75.0 and october["satisfied_rate__mom_pct"] == -25.0


def test_pc14_each_role_reads_its_dashboard(crm: Crm, world: dict[str, Any]) -> None:
    president = ok(crm.client("pc.president").get("/api/v1/dashboards/pc_board_president"))
    assert [i["report"] for i in president["items"] if "error" in i] == []
    reports = {i["report"]: i for i in president["items"]}
    assert {"pc_nps_by_ward", "pc_channel_shares", "pc_referral_volume", "pc_satisfaction_trend"} <= set(reports)
    shares = rows_by(reports["pc_channel_shares"]["result"], "source")
    assert shares["referral"]["patients"] == 3 and shares["walk_in"]["patients"] == 4  # the last 12 months
    manager = ok(crm.client("pc.manager").get("/api/v1/dashboards/pc_board_manager"))
    assert not [i for i in manager["items"] if "error" in i]
    officer = ok(crm.client("pc.officer1").get("/api/v1/dashboards/pc_home_officer"))
    schedule = next(i for i in officer["items"] if i.get("kind") == "schedule" and i.get("range") == "today")
    assert [r["id"] for r in schedule["result"]["records"]] == [world["today"]["id"]], "my call due today"
    buttons = next(i for i in officer["items"] if i.get("kind") == "quick_create")["result"]["buttons"]
    assert {"followup_call", "opinion", "appointment"} <= {b["entity"] for b in buttons}
    other = ok(crm.client("pc.officer3").get("/api/v1/dashboards/pc_home_officer"))
    today = next(i for i in other["items"] if i.get("kind") == "schedule" and i.get("range") == "today")
    assert today["result"]["records"] == [], "another officer's call is not on my day"


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 900}, {"width": 390, "height": 844}])
def test_pc14_president_home_dashboard_in_chromium(crm: Crm, world: dict[str, Any], viewport: dict[str, int]) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.conftest import REPO
    from tests.support.browser import require_chromium

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport=viewport, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(crm.url + "/login?next=/")
            page.fill("#username", "pc.president")
            page.fill("#password", crm.password)
            page.click("#login-submit")
            page.wait_for_selector("#dashboard-pc_board_president [data-echart] :is(canvas, svg)")
            text = page.locator("#home-dashboard").inner_text()
            assert "各病区净推荐值" in text or "净推荐值" in text
            assert "转诊量趋势" in text
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"] + 1, "no sideways scrolling"
            (REPO / "test-artifacts").mkdir(exist_ok=True)
            name = f"pc14_president_dashboard_{viewport['width']}.png"
            page.screenshot(path=str(REPO / "test-artifacts" / name), full_page=True)
        finally:
            browser.close()
