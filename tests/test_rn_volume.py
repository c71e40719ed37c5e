"""RN-11 business volume (合作医院业务量): the outreach manager records each partner's monthly volume (up and down
referrals, remote consultations, training, other; the total is computed), one record per hospital and month;
the YoY and MoM reports - by month, by partner, by cooperation type (a measure per column) and by hospital
grade (a dimension through the hospital reference) - give exactly the numbers of the records. Real HTTP.

Known data (the clock stands at 2026-11-23):
    A 澜州市人民医院 3A  2025-10: 10/5/2/1/0 = 18   2025-11: 12/4/2/2/0 = 20   2026-10: 15/6/3/1/0 = 25
                         2026-11: 18/7/4/1/0 = 30
    B 云溪县人民医院 2A  2025-11: 5/2/1/2/0 = 10    2026-10: 6/2/1/1/0 = 10    2026-11: 8/3/2/2/0 = 15
    C 明湖县中医院   2A  2026-11: 3/1/0/0/1 = 5
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runtime.services import Tessera
from tests.support.rn_site import RnSite, rn_site

VOLUME = {
    "A": [("2025-10-01", 10, 5, 2, 1, 0), ("2025-11-01", 12, 4, 2, 2, 0), ("2026-10-01", 15, 6, 3, 1, 0),
          ("2026-11-01", 18, 7, 4, 1, 0)],
    "B": [("2025-11-01", 5, 2, 1, 2, 0), ("2026-10-01", 6, 2, 1, 1, 0), ("2026-11-01", 8, 3, 2, 2, 0)],
    "C": [("2026-11-01", 3, 1, 0, 0, 1)],
}  # fmt: skip
FIELDS = ("up_referrals", "down_referrals", "remote_consultations", "training_sessions", "other")


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[RnSite]:
    yield from rn_site(make_tessera)


def rows(site: RnSite, who: str, report: str, **params: str) -> dict[Any, dict[str, Any]]:
    body = site.ok(site(who).get(f"/api/v1/reports/{report}", params=params))
    out = {}
    for r in body["rows"]:
        if r["level"] == "row":
            values = r["values"]
            out[values.get("rk_p") or values.get("rk_d0")] = values
    return out


def test_rn11_business_volume_yoy_mom(site: RnSite) -> None:
    hospitals = {
        "A": site.hospital("澜州市人民医院", level="3A", status="formal", beds=800),
        "B": site.hospital("云溪县人民医院", level="2A", status="formal"),
        "C": site.hospital("明湖县中医院", level="2A", status="formal", liaison="li2"),
    }
    mgr = site("mgr")
    for key, months in VOLUME.items():
        for month, *counts in months:
            data = {"hospital": hospitals[key], "month": month, **dict(zip(FIELDS, counts, strict=True))}
            created = site.ok(mgr.post("/api/v1/records/business_volume", json=data), 201)
            assert created["total"] == sum(counts)

    # one record per hospital and month; a month is given as its first day
    twice = mgr.post("/api/v1/records/business_volume", json={"hospital": hospitals["A"], "month": "2026-11-01"})
    assert twice.status_code == 422, twice.text
    [error] = twice.json()["error"]["errors"]
    assert error["field"] == "month" and error["code"] == "unique" and "合作医院" in error["message"]
    mid = mgr.post("/api/v1/records/business_volume", json={"hospital": hospitals["A"], "month": "2026-09-15"})
    assert mid.status_code == 422 and mid.json()["error"]["errors"][0]["field"] == "month"
    negative = mgr.post(
        "/api/v1/records/business_volume", json={"hospital": hospitals["A"], "month": "2026-09-01", "up_referrals": -1}
    )
    assert negative.status_code == 422 and negative.json()["error"]["errors"][0]["field"] == "up_referrals"

    # by month: this November against November last year and against October
    by_month = rows(site, "mgr", "volume_by_month")
    nov = by_month["2026-11"]
    assert (nov["total"], nov["total__yoy"], nov["total__mom"]) == (50, 30, 35)
    assert round(nov["total__yoy_pct"], 1) == 66.7 and round(nov["total__mom_pct"], 1) == 42.9
    assert nov["hospitals"] == 3 and by_month["2026-10"]["total"] == 35 and by_month["2026-09"]["total"] == 0
    only_b = rows(site, "mgr", "volume_by_month", hospital=str(hospitals["B"]))
    b_nov = only_b["2026-11"]
    assert (b_nov["total"], b_nov["total__yoy"], b_nov["total__mom"]) == (15, 10, 10)

    # by cooperation type: one measure per kind of business, each with its own comparisons
    by_type = rows(site, "mgr", "volume_by_type")["2026-11"]
    assert [by_type[f] for f in FIELDS] == [29, 11, 6, 3, 1] and by_type["total"] == 50
    assert (by_type["up_referrals__yoy"], by_type["up_referrals__mom"]) == (17, 21)
    assert (by_type["training_sessions__yoy"], by_type["training_sessions__mom"]) == (4, 2)

    # by partner, this year so far against the same part of last year
    by_partner = rows(site, "mgr", "volume_by_partner")
    a, b, c = by_partner["澜州市人民医院"], by_partner["云溪县人民医院"], by_partner["明湖县中医院"]
    assert (a["total"], a["total__yoy"], round(a["total__yoy_pct"], 1)) == (55, 38, 44.7)
    assert (a["up_referrals"], a["up_referrals__yoy"]) == (33, 22)
    assert (a["training_sessions"], a["training_sessions__yoy"]) == (2, 3)
    assert (b["total"], b["total__yoy"]) == (25, 10)
    assert c["total"] == 5 and not c["total__yoy"]

    # by hospital grade: a dimension through the hospital reference
    by_level = rows(site, "mgr", "volume_by_level")
    tertiary, secondary = by_level["三级甲等"], by_level["二级甲等"]
    assert (tertiary["total"], tertiary["total__yoy"], tertiary["hospitals"]) == (55, 38, 1)
    assert (secondary["total"], secondary["total__yoy"], secondary["hospitals"]) == (30, 10, 2)

    # the network leader's and a liaison's view agree with the manager's; the pages render
    assert rows(site, "li", "volume_by_month")["2026-11"]["total"] == 50
    page = mgr.get("/reports/volume_by_month")
    assert page.status_code == 200 and "业务量月度趋势" in page.text
