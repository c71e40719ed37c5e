"""RN-08: the heat score (客情热度) of a partner hospital from its visits (recent ones count more), the
hospital's feedback, the business volume of the last 6 months, less missed visits; explained on the
hospital page, graded hot/warm/cool/cold, ranked, and used by the visit rule base. Real HTTP as the demo
users, on SQLite and PostgreSQL; score jobs run through app.jobs.run_pending() as the job runner would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from tests.support.html import dom
from tests.support.referral import ADMIN, Referral, referral_world

API = "/api/v1/records"
TODAY = date(2026, 11, 23)
ENTITIES = ("partner_hospital", "visit_rule")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def rn(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Referral]:
    yield from referral_world(request, tmp_path_factory, ENTITIES)


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def visit(rn: Referral, who: str, hospital_id: int, done: int, feedback: int) -> None:
    """The liaison plans a visit on the hospital page and records its result on the phone."""
    me = rn.client(who)
    purpose = f"合作回顾{done}"
    r = me.post(f"{API}/partner_hospital/{hospital_id}/actions/plan_visit",
                json={"input": {"planned_date": day(done), "visit_type": "onsite", "purpose": purpose}})
    assert r.status_code == 200, r.text
    plan = next(p for p in rn.every("visit_plan", hospital=hospital_id) if p["purpose"] == purpose)
    r = me.post(f"{API}/visit_plan/{plan['id']}/actions/record_result", json={"input": {
        "done_date": day(done), "contact_met": "医务科科长", "content": "回顾转诊数据并约定专家坐诊",
        "outcome": "progress", "feedback": feedback, "next_steps": "下月坐诊"}})
    assert r.status_code == 200, r.text


def explained(rn: Referral, who: str, hospital_id: int) -> dict:
    r = rn.client(who).get(f"/api/v1/scores/hospital_heat/records/{hospital_id}")
    assert r.status_code == 200, r.text
    return r.json()


def test_rn08_heat_score_explained_and_ranked(rn: Referral) -> None:
    warm = rn.hospital("金穗镇卫生院")  # formal township centre of rn.liaison1
    other = rn.hospital("宁河镇卫生院")  # formal township centre of rn.liaison4
    rn.app.jobs.run_pending()
    start = explained(rn, "rn.liaison1", warm["id"])
    assert (start["value"], start["grade"]) == (0.0, "cold")
    assert [c["id"] for c in start["components"]] == ["visits", "feedback", "business", "missed"]
    # three visits with excellent feedback, the latest today
    for done in (-40, -12, 0):
        visit(rn, "rn.liaison1", warm["id"], done, 5)
    visit(rn, "rn.liaison4", other["id"], -100, 3)
    rn.app.jobs.run_pending()
    after_visits = explained(rn, "rn.liaison1", warm["id"])
    parts = {c["id"]: c for c in after_visits["components"]}
    # 3 of the cap 6 = 50, x 0.35, decayed by the age of the latest (today, midnight: 9.5 hours, half-life 90 days)
    decay = 0.5 ** (9.5 / 24 / 90)
    assert (parts["visits"]["raw"], parts["visits"]["decay"]) == (3.0, round(decay, 4))
    assert parts["visits"]["contribution"] == round(50 * decay * 0.35, 4)
    assert (parts["feedback"]["raw"], parts["feedback"]["contribution"]) == (5.0, 25.0)
    visits_and_feedback = round(50 * decay * 0.35 + 25, 2)
    assert after_visits["value"] == visits_and_feedback == 42.45 and after_visits["grade"] == "cool"
    # the manager enters six months of business volume (an older month does not count)
    manager = rn.client("rn.manager1")
    for month in ("2026-04-01", "2026-06-01", "2026-07-01", "2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01"):
        r = manager.post(f"{API}/business_volume", json={"hospital": warm["id"], "month": month, "up_referrals": 80,
                                                          "down_referrals": 20, "remote_consultations": 10,
                                                          "training_sessions": 10, "other": 0})
        assert r.status_code == 201, r.text
    rn.app.jobs.run_pending()
    hot = explained(rn, "rn.liaison1", warm["id"])
    business = next(c for c in hot["components"] if c["id"] == "business")
    assert (business["raw"], business["normalised"], business["contribution"]) == (720.0, 100.0, 40.0)
    assert hot["value"] == 82.45 and hot["grade"] == "hot"
    assert [(h["from"], h["to"]) for h in hot["history"]][:2] == [("cool", "hot"), ("cold", "cool")]  # newest first
    record = rn.hospital("金穗镇卫生院")
    assert abs(float(record["heat_score"]) - 82.45) <= 0.05 and record["heat_grade"] == "hot"  # 1 decimal kept
    # missed visits lower it: 2 of the cap 5 x weight -0.2 = -8
    for offset in (-20, -5):
        rn.app.records.create("visit_plan", {"subject": "未执行的拜访", "hospital": warm["id"], "status": "missed",
                                             "planned_date": day(offset), "liaison": rn.uid("rn.liaison1")}, ADMIN)
    rn.app.jobs.run_pending()
    lowered = explained(rn, "rn.liaison1", warm["id"])
    missed = next(c for c in lowered["components"] if c["id"] == "missed")
    assert (missed["raw"], missed["weight"], missed["contribution"]) == (2.0, -0.2, -8.0)
    assert lowered["value"] == 74.45 and lowered["grade"] == "hot"
    # the hospital page explains it in the liaison's words
    card = dom(rn.client("rn.liaison1").get(f"/r/partner_hospital/{warm['id']}/scores").text).text()
    for words in ("客情热度", "近期拜访", "院方反馈", "近 6 个月业务量", "逾期未拜访", "74.45"):
        assert words in card, words
    # the ranking: the hottest first, each user sees the hospitals in their scope
    ranking = dom(rn.client("rn.leader").get("/v/hospital_heat_ranking").text)
    rows = [row.text() for row in ranking.by_id("list-table").find("tbody").find_all("tr")]
    assert "金穗镇卫生院" in rows[0] and "宁河镇卫生院" in rows[1]
    api_ranking = rn.client("rn.leader").get("/api/v1/scores/hospital_heat/ranking").json()
    assert str(warm["id"]) in str(api_ranking)[:200], api_ranking
    mine = dom(rn.client("rn.liaison4").get("/v/hospital_heat_ranking").text)
    assert "金穗镇卫生院" not in mine.text() and "宁河镇卫生院" in mine.text()
    # and the rule base now treats it as a hot hospital
    r = rn.client("rn.liaison1").post(f"{API}/partner_hospital/{warm['id']}/actions/suggest_visit_plan")
    assert r.status_code == 200, r.text
    newest = max(rn.every("visit_plan", hospital=warm["id"]), key=lambda p: p["id"])
    rule = next(x for x in rn.every("visit_rule") if x["id"] == newest["rule"])
    assert (rule["name"], newest["visit_type"]) == ("热度高的合作医院·保持联系", "video")


def test_rn08_heat_recomputed_nightly_as_visits_age(rn: Referral) -> None:
    hospital = rn.hospital("宁河镇卫生院")
    before = explained(rn, "rn.liaison4", hospital["id"])
    visits = next(c for c in before["components"] if c["id"] == "visits")
    assert visits["raw"] == 1.0 and visits["decay"] == round(0.5 ** ((100 + 9.5 / 24) / 90), 4)
    clock = rn.app.clock
    try:
        clock.advance(days=81)  # the 100-day-old visit leaves the 180 days
        with rn.app.db.write() as conn:
            rn.app.jobs.defer("scores.nightly", {}, key="nightly-rn08", conn=conn)
        rn.app.jobs.run_pending()
        after = explained(rn, "rn.liaison4", hospital["id"])
        assert next(c for c in after["components"] if c["id"] == "visits")["raw"] == 0.0
        assert after["value"] < before["value"]
    finally:
        clock.advance(days=-81)
