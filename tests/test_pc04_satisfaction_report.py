"""PC-04: satisfaction statistics — satisfied, unsatisfied, no opinion and unreachable counts and rates, by
ward and by period (report pc_satisfaction_shares).

The shipped pack on SQLite and PostgreSQL behind a live server, demo organisation only. The officer makes
and completes known follow-up calls over the API; the statistics analyst and the president read the report
over HTTP and see exactly those numbers; open calls and calls outside the range do not count.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.patient_crm import Crm, crm_fixture, ok
from tests.support.pc_stats import TOTAL, call, patient, rows_by, run

crm = crm_fixture()
OCT = datetime(2026, 10, 5, 10, 0)


@pytest.fixture(scope="module")
def calls(crm: Crm) -> None:
    """Cardiology: 6 satisfied, 2 unsatisfied, 1 no opinion, 1 unreachable in October, one call still open
    and one satisfied in September; orthopedics: 4 satisfied, 1 unreachable in October."""
    heart = patient(crm, "心内科患者", "cardiology")
    bone = patient(crm, "骨科患者", "orthopedics")
    done = datetime(2026, 10, 6, 15, 0)
    answers = ["satisfied"] * 6 + ["unsatisfied"] * 2 + ["no_opinion", "unreachable"]
    for i, answer in enumerate(answers):
        extra = {} if answer == "unreachable" else {"nps": 9}
        call(
            crm, heart, "cardiology", OCT.replace(day=5 + i), done=done.replace(day=6 + i), satisfaction=answer, **extra
        )
    for i, answer in enumerate(["satisfied"] * 4 + ["unreachable"]):
        call(crm, bone, "orthopedics", OCT.replace(day=10 + i), done=done.replace(day=11 + i), satisfaction=answer)
    call(crm, heart, "cardiology", OCT.replace(day=28))  # still open: not a result
    september = datetime(2026, 9, 20, 10, 0)
    call(crm, heart, "cardiology", september, done=september.replace(hour=15), satisfaction="satisfied")


def test_pc04_satisfaction_counts_and_rates_by_ward(crm: Crm, calls: None) -> None:
    result = run(crm.client("pc.analyst"), "pc_satisfaction_shares", **{"from": "2026-10-01", "to": "2026-10-31"})
    rows = rows_by(result, "ward")
    heart, bone, total = rows["cardiology"], rows["orthopedics"], rows[TOTAL]
    assert (heart["calls"], heart["satisfied"], heart["unsatisfied"], heart["no_opinion"], heart["unreachable"]) == (
        10,
        6,
        2,
        1,
        1,
    )
    assert (
        heart["satisfied_rate"],
        heart["unsatisfied_rate"],
        heart["no_opinion_rate"],
        heart["unreachable_rate"],
    ) == (
        60.0,
        20.0,
        10.0,
        10.0,
    )
    assert (
        bone["calls"],
        bone["satisfied"],
        bone["unreachable"],
        bone["satisfied_rate"],
        bone["unreachable_rate"],
    ) == (
        5,
        4,
        1,
        80.0,
        20.0,
    )
    assert (total["calls"], total["satisfied"], total["unsatisfied"], total["no_opinion"], total["unreachable"]) == (
        15,
        10,
        2,
        1,
        2,
    )
    assert (
        total["satisfied_rate"],
        total["unsatisfied_rate"],
        total["no_opinion_rate"],
        total["unreachable_rate"],
    ) == (
        66.7,
        13.3,
        6.7,
        13.3,
    )
    assert set(rows) == {"cardiology", "orthopedics", TOTAL}, "only wards with completed calls are listed"


def test_pc04_by_period_and_the_drill_down_lists_the_calls_behind_a_row(crm: Crm, calls: None) -> None:
    analyst = crm.client("pc.analyst")
    params = {"from": "2026-09-01", "to": "2026-10-31", "grain": "month", "ward": "cardiology"}
    result = run(analyst, "pc_satisfaction_shares", **params)
    rows = rows_by(result, "ward", with_period=True)
    assert rows[("cardiology", "2026-09")]["calls"] == 1 and rows[("cardiology", "2026-09")]["satisfied_rate"] == 100.0
    assert rows[("cardiology", "2026-10")]["calls"] == 10 and rows[("cardiology", "2026-10")]["satisfied"] == 6
    october = next(
        r for r in result["rows"] if r["level"] == "row" and "done_at__gte=2026-10-01" in (r["records"] or "")
    )
    listed = ok(analyst.get(october["records"] + "&limit=100"))["items"]
    assert len(listed) == 10 and {c["ward"] for c in listed} == {"cardiology"}
    unhappy = ok(analyst.get(october["cell_records"]["unsatisfied"] + "&limit=100"))["items"]
    assert sorted(c["satisfaction"] for c in unhappy) == ["unsatisfied", "unsatisfied"]


def test_pc04_the_president_sees_the_same_numbers_and_bad_input_is_refused(crm: Crm, calls: None) -> None:
    president = crm.client("pc.president")
    total = rows_by(run(president, "pc_satisfaction_shares", **{"from": "2026-10-01", "to": "2026-10-31"}), "ward")
    assert total[TOTAL]["satisfied"] == 10 and total[TOTAL]["satisfied_rate"] == 66.7
    r = president.get("/api/v1/reports/pc_satisfaction_shares", params={"from": "2026-10-31", "to": "2026-10-01"})
    assert r.status_code == 400 and "ends before it starts" in r.text
    r = president.get("/api/v1/reports/pc_satisfaction_shares", params={"grain": "fortnight"})
    assert r.status_code == 400 and "grain must be one of" in r.text
