"""PC-06: net promoter score by ward, by year, quarter, month or a custom date range (report pc_nps_by_ward).

NPS = % promoters (9-10) - % detractors (0-6) of the answers. The shipped pack on SQLite and PostgreSQL
behind a live server; the officer enters known satisfaction surveys over the API and the analyst reads the
report over HTTP with each grain and a custom range; every NPS is computed by hand below.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.patient_crm import Crm, crm_fixture, ok
from tests.support.pc_stats import API, TOTAL, patient, rows_by, run

crm = crm_fixture()
SURVEYS = {
    "cardiology": [
        (date(2026, 1, 10), 10),
        (date(2026, 1, 20), 9),
        (date(2026, 2, 5), 3),
        (date(2026, 4, 8), 8),
        (date(2026, 4, 9), 10),
        (date(2026, 10, 3), 6),
        (date(2026, 10, 4), 9),
        (date(2026, 10, 5), 9),
        (date(2026, 10, 6), 10),
        (date(2025, 10, 6), 0),
    ],
    "orthopedics": [(date(2026, 10, 7), 10), (date(2026, 10, 8), 2), (date(2026, 10, 9), 7)],
}


def nps(scores: list[int]) -> float:
    """The score computed independently of the platform."""
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    return round((promoters - detractors) * 100 / len(scores), 1)


def scores(ward: str, start: date, end: date) -> list[int]:
    return [s for d, s in SURVEYS[ward] if start <= d <= end]


@pytest.fixture(scope="module")
def surveys(crm: Crm) -> None:
    officer = crm.client("pc.officer1")
    for ward, answers in SURVEYS.items():
        who = patient(crm, f"{ward} 调查患者", ward)
        for day, score in answers:
            body = {
                "patient": who["id"],
                "ward": ward,
                "survey_date": day.isoformat(),
                "channel": "phone",
                "surveyor": crm.uid("pc.officer1"),
                **dict.fromkeys(
                    ("medical_score", "nursing_score", "logistics_score", "environment_score", "service_score"), 4
                ),
                "nps": score,
            }
            ok(officer.post(f"{API}/satisfaction_survey", json=body), 201)


def test_pc06_nps_by_ward_for_the_year(crm: Crm, surveys: None) -> None:
    year = (date(2026, 1, 1), date(2026, 12, 31))
    rows = rows_by(run(crm.client("pc.analyst"), "pc_nps_by_ward", grain="year", period="this_year"), "ward", True)
    heart, bone = rows[("cardiology", "2026-01")], rows[("orthopedics", "2026-01")]
    assert heart["nps"] == nps(scores("cardiology", *year)) == 44.4
    assert (heart["answers"], heart["promoters"], heart["passives"], heart["detractors"]) == (9, 6, 1, 2)
    assert bone["nps"] == nps(scores("orthopedics", *year)) == 0.0
    assert rows[TOTAL]["nps"] == nps(scores("cardiology", *year) + scores("orthopedics", *year)) == 33.3


def test_pc06_nps_by_quarter_and_by_month_with_last_year(crm: Crm, surveys: None) -> None:
    analyst = crm.client("pc.analyst")
    quarters = rows_by(run(analyst, "pc_nps_by_ward", grain="quarter", period="this_year"), "ward", True)
    assert quarters[("cardiology", "2026-01")]["nps"] == nps(scores("cardiology", date(2026, 1, 1), date(2026, 3, 31)))
    assert quarters[("cardiology", "2026-04")]["nps"] == nps(scores("cardiology", date(2026, 4, 1), date(2026, 6, 30)))
    assert quarters[("cardiology", "2026-07")]["nps"] is None, "no answers in the third quarter: no score"
    assert quarters[("cardiology", "2026-10")]["nps"] == 50.0
    months = rows_by(
        run(analyst, "pc_nps_by_ward", grain="month", **{"from": "2026-10-01", "to": "2026-10-31"}), "ward", True
    )
    october = months[("cardiology", "2026-10")]
    assert october["nps"] == nps(scores("cardiology", date(2026, 10, 1), date(2026, 10, 31))) == 50.0
    assert october["nps__yoy"] == nps([0]) == -100.0, "October last year: one detractor"
    assert october["nps__yoy_pct"] == 150.0, "the change of a score is in points"
    assert months[("orthopedics", "2026-10")]["nps"] == 0.0


def test_pc06_custom_range_and_one_ward(crm: Crm, surveys: None) -> None:
    analyst = crm.client("pc.analyst")
    spring = {"from": "2026-01-01", "to": "2026-04-30"}
    rows = rows_by(run(analyst, "pc_nps_by_ward", **spring), "ward")
    assert rows["cardiology"]["nps"] == nps(scores("cardiology", date(2026, 1, 1), date(2026, 4, 30))) == 40.0
    assert "orthopedics" not in rows
    only = rows_by(
        run(analyst, "pc_nps_by_ward", ward="orthopedics", **{"from": "2025-01-01", "to": "2026-12-31"}), "ward"
    )
    assert set(only) == {"orthopedics", TOTAL} and only[TOTAL]["answers"] == 3
    r = analyst.get("/api/v1/reports/pc_nps_by_ward", params={"from": "2026-13-01"})
    assert r.status_code == 400 and "from and to must be dates" in r.text
