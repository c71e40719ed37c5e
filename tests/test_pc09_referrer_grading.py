"""PC-09 grading: a referrer's referrals this month and this year (patients with source referral and that
referrer, admitted in the last 30 / 365 days) are kept up to date as patients are referred, and the referrer is
graded gold / silver / bronze / iron from the monthly and yearly contribution (the platform's scores kind with
grade bands). The shipped patient_crm pack on SQLite and PostgreSQL, real HTTP as the demo users, score jobs
through app.jobs.run_pending()."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.support.patient_crm import NOW, Crm, crm_fixture, ok

crm = crm_fixture()
API = "/api/v1/records"


def referrer(crm: Crm, name: str, officer: str = "pc.officer1") -> dict[str, Any]:
    r = crm.client("pc.supervisor1").post(
        f"{API}/referrer", json={"name": name, "referrer_type": "community_doctor", "officer": crm.uid(officer)}
    )
    return ok(r, 201)


def refer(crm: Crm, who: dict[str, Any], count: int, days_ago: int, tag: str) -> None:
    """``count`` referred patients of the referrer, admitted ``days_ago`` days ago."""
    for i in range(count):
        crm.create(
            "patient",
            {
                "name": f"转诊患者{tag}{i}",
                "gender": "female",
                "source": "referral",
                "referrer": who["id"],
                "admitted_at": (NOW - timedelta(days=days_ago, hours=i)).isoformat(),
            },
        )
    crm.app.jobs.run_pending()


def test_pc09_referral_counts_this_month_and_year_kept_up_to_date(crm: Crm) -> None:
    doctor = referrer(crm, "社区医生 胡建军")
    refer(crm, doctor, 2, 5, "a")  # this month
    refer(crm, doctor, 3, 100, "b")  # this year, not this month
    refer(crm, doctor, 1, 500, "c")  # longer ago: no longer counts
    crm.create("patient", {"name": "自然来院", "gender": "male", "source": "walk_in", "admitted_at": NOW.isoformat()})
    crm.app.jobs.run_pending()
    now = ok(crm.client("pc.officer1").get(f"{API}/referrer/{doctor['id']}"))
    assert now["referrals_this_month"] == 2 and now["referrals_this_year"] == 5
    assert float(now["contribution_score"]) == 2 * 3 + 5
    assert now["grade"] == "bronze"


def test_pc09_grades_gold_silver_bronze_iron_by_contribution(crm: Crm) -> None:
    gold, silver, iron = referrer(crm, "金牌 客情人"), referrer(crm, "银牌 客情人"), referrer(crm, "铁牌 客情人")
    refer(crm, gold, 8, 3, "g")  # 8 * 3 + 8 = 32 ...
    refer(crm, gold, 10, 60, "g2")  # ... + 10 = 42: gold
    refer(crm, silver, 3, 10, "s")  # 3 * 3 + 3 = 12 ...
    refer(crm, silver, 9, 200, "s2")  # ... + 9 = 21: silver
    refer(crm, iron, 1, 300, "i")  # 1: iron
    grades = {r["name"]: r["grade"] for r in crm.every("referrer")}
    assert grades["金牌 客情人"] == "gold" and grades["银牌 客情人"] == "silver" and grades["铁牌 客情人"] == "iron"


def test_pc09_grade_follows_a_patient_moving_to_another_referrer(crm: Crm) -> None:
    first, second = referrer(crm, "原客情人 钟"), referrer(crm, "新客情人 邱")
    refer(crm, first, 3, 2, "m")  # 3 * 3 + 3 = 12: bronze
    assert crm.get("referrer", first["id"])["grade"] == "bronze"
    moved = [p for p in crm.every("patient", referrer=first["id"])][:2]
    supervisor = crm.client("pc.supervisor1")
    for p in moved:
        crm.app.records.update("patient", p["id"], {"referrer": second["id"]}, ctx(), expected_version=None)
    crm.app.jobs.run_pending()
    assert crm.get("referrer", first["id"])["referrals_this_month"] == 1
    assert crm.get("referrer", first["id"])["grade"] == "iron"
    assert crm.get("referrer", second["id"])["referrals_this_month"] == 2
    r = supervisor.get(f"{API}/referrer", params={"grade": "bronze"})
    assert second["id"] in [x["id"] for x in ok(r)["items"]]


def ctx() -> Any:
    from tests.support.patient_crm import ADMIN

    return ADMIN
