"""PC-05: opinion statistics by category (logistics, medical, nursing, ...) and a department comparison, as
bar and pie charts (reports pc_opinions_by_category and pc_opinions_by_department, and the dashboards that
chart them).

The shipped pack on SQLite and PostgreSQL behind a live server, demo organisation only. The officer enters
known opinions over the API (routed to a ward and to logistics); the analyst reads the reports and the
president and manager their dashboards over HTTP, and the numbers are exactly those opinions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.support.patient_crm import ADMIN, Crm, crm_fixture, ok
from tests.support.pc_stats import API, TOTAL, iso, patient, rows_by, run

crm = crm_fixture()
OCT = datetime(2026, 10, 12, 9, 0)
RANGE = {"from": "2026-10-01", "to": "2026-10-31"}


@pytest.fixture(scope="module")
def opinions(crm: Crm) -> dict[str, int]:
    """Nursing x3 (one important, one resolved), medical x1 (critical) to the cardiology ward; logistics x2
    (one closed) to LOGISTICS; one nursing opinion of September (outside the range)."""
    ward = crm.ward_department("WARD-CARDIOLOGY", "心内科病区")
    logistics = crm.ward_department("LOGISTICS", "后勤保障部")
    who = patient(crm, "意见患者", "cardiology")
    officer = crm.client("pc.officer1")

    def opinion(category: str, department: int, grade: str = "normal", raised: datetime = OCT) -> dict[str, Any]:
        body = {
            "patient": who["id"],
            "ward": "cardiology",
            "category": category,
            "grade": grade,
            "content": f"{category} 意见",
            "department": department,
            "raised_at": iso(raised),
        }
        return ok(officer.post(f"{API}/opinion", json=body), 201)

    made = [opinion("nursing", ward, "important"), opinion("nursing", ward), opinion("nursing", ward)]
    made += [opinion("medical", ward, "critical"), opinion("logistics", logistics), opinion("logistics", logistics)]
    opinion("nursing", ward, raised=datetime(2026, 9, 20, 9, 0))
    for record, status in ((made[2], "resolved"), (made[5], "closed")):
        done = {"status": status, "resolved_at": iso(OCT.replace(day=15)), "response": "已整改"}
        crm.app.records.update("opinion", record["id"], done, ADMIN, expected_version=None)
    return {"ward": ward, "logistics": logistics}


def test_pc05_opinions_by_category(crm: Crm, opinions: dict[str, int]) -> None:
    rows = rows_by(run(crm.client("pc.analyst"), "pc_opinions_by_category", **RANGE), "category")
    nursing, medical, logistics = rows["nursing"], rows["medical"], rows["logistics"]
    assert (nursing["opinions"], nursing["important"], nursing["open"], nursing["closed_rate"]) == (3, 1, 2, 33.3)
    assert (medical["opinions"], medical["important"], medical["open"], medical["closed_rate"]) == (1, 1, 1, 0.0)
    assert (logistics["opinions"], logistics["important"], logistics["open"], logistics["closed_rate"]) == (
        2,
        0,
        1,
        50.0,
    )
    assert (rows[TOTAL]["opinions"], rows[TOTAL]["important"], rows[TOTAL]["open"]) == (6, 2, 4)
    assert set(rows) == {"nursing", "medical", "logistics", TOTAL}


def test_pc05_departments_compared(crm: Crm, opinions: dict[str, int]) -> None:
    rows = rows_by(run(crm.client("pc.analyst"), "pc_opinions_by_department", **RANGE), "department")
    ward, logistics = rows[str(opinions["ward"])], rows[str(opinions["logistics"])]
    assert (ward["opinions"], ward["important"], ward["open"], ward["closed_rate"]) == (4, 2, 3, 25.0)
    assert (logistics["opinions"], logistics["important"], logistics["open"], logistics["closed_rate"]) == (
        2,
        0,
        1,
        50.0,
    )
    september = rows_by(
        run(crm.client("pc.analyst"), "pc_opinions_by_department", **{"from": "2026-09-01", "to": "2026-09-30"}),
        "department",
    )
    assert september[TOTAL]["opinions"] == 1


def test_pc05_bar_and_pie_charts_on_the_dashboards(crm: Crm, opinions: dict[str, int]) -> None:
    """The president's board shows the categories as a pie; the manager's board the open opinions per category
    as bars and the departments as a pie; every chart carries the same numbers as the reports."""
    board = ok(crm.client("pc.president").get("/api/v1/dashboards/pc_board_president", params=RANGE))
    pie = next(i for i in board["items"] if i.get("report") == "pc_opinions_by_category")
    assert pie["view"] == "pie" and pie["measure"] == "opinions"
    assert rows_by(pie["result"], "category")["nursing"]["opinions"] == 3
    manager = ok(crm.client("pc.manager").get("/api/v1/dashboards/pc_board_manager", params=RANGE))
    bars = next(i for i in manager["items"] if i.get("report") == "pc_opinions_by_category")
    assert bars["view"] == "bar" and bars["measure"] == "open"
    assert {k: v["open"] for k, v in rows_by(bars["result"], "category").items()} == {
        "nursing": 2,
        "medical": 1,
        "logistics": 1,
        TOTAL: 4,
    }
    departments = next(i for i in manager["items"] if i.get("report") == "pc_opinions_by_department")
    assert departments["view"] == "pie"
    shares = rows_by(departments["result"], "department")
    assert shares[str(opinions["ward"])]["opinions"] == 4 and shares[str(opinions["logistics"])]["opinions"] == 2
