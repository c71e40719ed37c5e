"""Scores and grades (PL-11, RN-08 heat score): exact value with decay and caps, the explanation lists its
inputs, grade history, recompute on related writes (a job per change) and the nightly batch job."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from runtime.automation.scores.tables import grade_history
from runtime.blueprints import load_pack
from runtime.blueprints.errors import PackInvalid
from tests.conftest import PACKS
from tests.test_pools_world import World, build_world


@pytest.fixture
def world(make_tessera) -> World:
    return build_world(make_tessera)


def _visit(w: World, hospital: int, days_ago: float, outcome: str = "done") -> dict:
    at = w.app.clock.now() - timedelta(days=days_ago)
    return w.create(
        "visit", {"summary": "visit", "hospital": hospital, "visited_at": at.isoformat(), "outcome": outcome}
    )


def _hospital(w: World) -> int:
    now = w.app.clock.now()
    h = w.create(
        "hospital",
        {"name": "市第一医院", "referrals_ytd": 25, "last_referral_at": (now - timedelta(days=30)).isoformat()},
    )
    for days in (1, 5, 20, 60):
        _visit(w, h["id"], days)
    _visit(w, h["id"], 3, "cancelled")  # not counted: where outcome == 'done'
    _visit(w, h["id"], 100)  # not counted: older than 90 days
    w.app.jobs.run_pending()
    return h["id"]


def test_pl11_score_with_two_components_and_decay_is_exact_and_explained(world: World) -> None:
    hid = _hospital(world)
    record = world.get("hospital", hid)
    # visits: 4 done in 90 days, cap 10 -> 40 x 0.6 = 24; referrals: 25 halved by 30 days (half-life 30)
    # = 12.5, cap 50 -> 25 x 0.4 = 10; total 34 -> bronze (>= 30)
    assert float(record["heat_score"]) == 34.0
    assert record["heat_grade"] == "bronze"
    with world.app.db.read() as conn:
        [shown] = world.app.scores.explanations(conn, "hospital", hid)
    assert shown["value"] == 34.0 and shown["grade"] == "bronze"
    visits, referrals = shown["components"]
    assert (visits["raw"], visits["normalised"], visits["weight"], visits["contribution"]) == (4.0, 40.0, 0.6, 24.0)
    assert visits["inputs"]["en"] == "4 × Visit in the last 90 days where Outcome is Done"
    assert visits["inputs"]["zh"] == "近 90 天拜访记录条数 4（条件：结果 为 已完成）"  # labels, not `outcome == 'done'`
    assert referrals["raw"] == 25.0 and referrals["decay"] == 0.5
    assert (referrals["normalised"], referrals["contribution"]) == (25.0, 10.0)
    assert referrals["inputs"]["en"] == "Referrals this year = 25; latest 2026-10-24 (30 days ago, half-life 30 days)"


def test_pl11_explained_conditions_use_field_and_option_labels_or_stay_as_written(world: World) -> None:
    from runtime.automation.scores.wording import condition_words

    registry = world.app.registry
    visit = registry.entity("visit")

    def words(where: str, lang: str = "zh") -> str:
        return condition_words(registry, visit, where, lang)

    assert words("outcome in ['done', 'cancelled']") == "结果 为 已完成或已取消"
    assert words("outcome != 'cancelled' and summary == 'x'", "en") == "Outcome is not Cancelled and Summary is x"
    assert words("outcome == None") == "结果 为 空"
    odd = ("outcome == 'done' or outcome is None", "len(summary) > 3", "nosuch == 'a'", "outcome ===", "summary in 'a'")
    for as_written in odd:
        assert words(as_written) == as_written


def test_pl11_recompute_when_a_related_visit_is_added_and_grade_history(world: World) -> None:
    hid = _hospital(world)
    for _ in range(5):  # 9 visits -> 54 + 10 = 64: silver
        _visit(world, hid, 2)
    assert float(world.get("hospital", hid)["heat_score"]) == 34.0  # recomputed by the job, not inline
    world.app.jobs.run_pending()
    record = world.get("hospital", hid)
    assert (float(record["heat_score"]), record["heat_grade"]) == (64.0, "silver")
    with world.app.db.read() as conn:
        rows = conn.execute(sa.select(grade_history).order_by(grade_history.c.id)).all()
    assert [(r.from_grade, r.to_grade, r.score) for r in rows] == [(None, "bronze", 34.0), ("bronze", "silver", 64.0)]


def test_pl11_recompute_when_the_hospital_itself_changes_and_not_on_unrelated_fields(world: World) -> None:
    hid = _hospital(world)
    world.update("hospital", hid, {"referrals_ytd": 50})  # 25 after decay, cap 50 -> 50 x 0.4 = 20; 24 + 20 = 44
    world.app.jobs.run_pending()
    assert float(world.get("hospital", hid)["heat_score"]) == 44.0
    version = world.get("hospital", hid)["version"]
    world.update("hospital", hid, {"name": "市第一人民医院"})  # the score does not read the name
    world.app.jobs.run_pending()
    assert world.get("hospital", hid)["version"] == version + 1  # no extra score write


def test_pl11_nightly_job_recomputes_all_as_time_passes(world: World) -> None:
    hid = _hospital(world)
    assert "scores.nightly" in world.app.jobs.periodic
    world.app.clock.advance(days=31)  # the 60-day-old visit leaves the 90 days; referrals decay further
    with world.app.db.write() as conn:
        world.app.jobs.defer("scores.nightly", {}, key="nightly-test", conn=conn)
    world.app.jobs.run_pending()
    record = world.get("hospital", hid)
    # visits 3 -> 30 x 0.6 = 18; referrals 25 x 0.5 ** (61 / 30) of cap 50, x 0.4; total 22.89 -> iron
    expected = round(18 + 25 * 0.5 ** (61 / 30) / 50 * 100 * 0.4, 2)
    assert expected == 22.89
    assert (float(record["heat_score"]), record["heat_grade"]) == (expected, "iron")


def test_pl11_pack_check_names_file_and_pointer(tmp_path) -> None:
    import shutil

    pack = tmp_path / "pools_pack"
    shutil.copytree(PACKS / "pools_pack", pack)
    path = pack / "scores" / "hospital_heat.json"
    text = (
        path.read_text("utf-8")
        .replace('"via": "hospital"', '"via": "summary"')
        .replace("outcome == 'done'", "outcome.startswith('d')")
    )
    path.write_text(text, "utf-8")
    with pytest.raises(PackInvalid) as info:
        load_pack(pack)
    errors = {(e.file, e.pointer) for e in info.value.errors}
    assert ("scores/hospital_heat.json", "/components/0/aggregate/via") in errors
    assert ("scores/hospital_heat.json", "/components/0/aggregate/where") in errors


def test_pl23_score_and_pool_tables_match_their_migration(make_tessera) -> None:
    from runtime.automation.pools.tables import assignment_cursors, pool_events
    from runtime.automation.scores.tables import score_explanations

    app = make_tessera()
    inspector = sa.inspect(app.db.engine)
    for table in (score_explanations, grade_history, pool_events, assignment_cursors):
        live = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(live) == set(table.columns.keys()), f"{table.name} drifted from its migration"
        for column in table.columns:
            assert live[column.name]["nullable"] == column.nullable, f"{table.name}.{column.name} nullability"
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        assert {i.name for i in table.indexes} <= indexes, f"{table.name} indexes drifted"
