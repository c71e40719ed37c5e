"""Pools (公海, PL-12) over real HTTP and the daily job: claim caps per day and holding caps, protection
periods, release and manager assignment, and a lead untouched for N days: warned once, then recycled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from runtime.api import create_app
from runtime.automation.pools.tables import pool_events
from runtime.storage import platform_tables as pt
from tests.support.server import live_server
from tests.test_pools_world import World, build_world

POOL = "/api/v1/pools/lead_pool"


@pytest.fixture
def world(make_tessera) -> World:
    return build_world(make_tessera)


@pytest.fixture
def url(world: World) -> Iterator[str]:
    with live_server(create_app(world.app, extensions=[])) as base:
        yield base


def _leads(w: World, n: int) -> list[int]:
    return [w.create("lead", {"name": f"线索 {i + 1}", "status": "pool"})["id"] for i in range(n)]


def _events(w: World, rid: int) -> list[tuple[str, int | None, int | None]]:
    with w.app.db.read() as conn:
        return [(e["action"], e["user_id"], e["previous_owner_id"]) for e in w.app.pools.events(conn, "lead_pool", rid)]


def test_pl12_claim_cap_per_day_and_holding_cap_are_refused_over_http(world: World, url: str) -> None:
    leads = _leads(world, 5)
    li = world.client(url, "li")
    for rid in leads[:2]:
        r = li.post(f"{POOL}/records/{rid}/claim")
        assert r.status_code == 200, r.text
        assert r.json()["liaison"] == world.users["li"] and r.json()["status"] == "held"
    r = li.post(f"{POOL}/records/{leads[2]}/claim")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "pool_claim_cap"
    assert r.json()["error"]["message"] == "you have reached today's claim limit (2/2)"
    summary = li.get(POOL).json()
    assert (summary["claimed_today"], summary["claim_cap"], summary["holding"], summary["holding_cap"]) == (2, 2, 2, 3)
    assert sorted(r["id"] for r in summary["records"]) == leads[2:]
    assert sorted(r["id"] for r in summary["mine"]) == leads[:2]

    world.app.clock.advance(days=1)  # a new day: the daily cap resets, the holding cap (3) does not
    assert li.post(f"{POOL}/records/{leads[2]}/claim").status_code == 200
    r = li.post(f"{POOL}/records/{leads[3]}/claim")
    assert r.status_code == 409 and r.json()["error"]["code"] == "pool_holding_cap"
    assert "(3/3)" in r.json()["error"]["message"]
    taken = world.client(url, "wang").post(f"{POOL}/records/{leads[0]}/claim")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "pool_not_in_pool"
    assert li.post(f"{POOL}/records/{leads[0]}/release").status_code == 200
    assert li.post(f"{POOL}/records/{leads[3]}/claim").status_code == 200
    assert _events(world, leads[0]) == [("claim", world.users["li"], None), ("release", None, world.users["li"])]
    assert world.get("lead", leads[0])["liaison"] is None and world.get("lead", leads[0])["status"] == "pool"


def test_pl12_only_pool_roles_claim_and_only_managers_assign(world: World, url: str) -> None:
    [rid] = _leads(world, 1)
    r = world.client(url, "west1").post(f"{POOL}/records/{rid}/claim")
    assert r.status_code == 403
    r = world.client(url, "li").post(f"{POOL}/records/{rid}/assign", json={"user_id": world.users["li"]})
    assert r.status_code == 403 and r.json()["error"]["message"] == "only a manager may assign or recycle"
    r = world.client(url, "mgr").post(f"{POOL}/records/{rid}/assign", json={"user_id": "li"})
    assert r.status_code == 400 and "user_id" in r.json()["error"]["message"]
    assert world.client(url, "li").post(f"{POOL}/records/99999/claim").status_code == 404


def test_pl12_manager_assign_uses_the_pools_round_robin(world: World, url: str) -> None:
    leads = _leads(world, 5)
    mgr = world.client(url, "mgr")
    owners = [mgr.post(f"{POOL}/records/{rid}/assign").json()["liaison"] for rid in leads]
    li, wang, zhao = world.users["li"], world.users["wang"], world.users["zhao"]
    assert owners == [li, wang, zhao, li, wang]  # five leads to three liaisons: 2/2/1


def test_pl12_protection_period_after_a_claim(world: World, url: str) -> None:
    [rid] = _leads(world, 1)
    assert world.client(url, "li").post(f"{POOL}/records/{rid}/claim").status_code == 200
    mgr = world.client(url, "mgr")
    for action, body in (("assign", {"user_id": world.users["wang"]}), ("recycle", None)):
        r = mgr.post(f"{POOL}/records/{rid}/{action}", json=body)
        assert r.status_code == 409 and r.json()["error"]["code"] == "pool_protected", r.text
        assert "protected until 2026-11-30" in r.json()["error"]["message"]
    world.app.clock.advance(days=7, minutes=1)
    r = mgr.post(f"{POOL}/records/{rid}/assign", json={"user_id": world.users["wang"]})
    assert r.status_code == 200 and r.json()["liaison"] == world.users["wang"]


def _notes(w: World, who: str) -> list[str]:
    with w.app.db.read() as conn:
        n = pt.notifications.c
        return list(conn.execute(sa.select(n.title).where(n.user_id == w.users[who]).order_by(n.id)).scalars())


def test_pl12_untouched_lead_is_warned_once_then_recycled_and_protected(world: World, url: str) -> None:
    leads = _leads(world, 2)
    li = world.client(url, "li")
    for rid in leads:
        assert li.post(f"{POOL}/records/{rid}/claim").status_code == 200
    world.app.jobs.run_pending()
    # the second lead is followed up on day 10: its 30 days start again from there
    world.app.clock.advance(days=10)
    world.update("lead", leads[1], {"last_follow_up_at": world.app.clock.now().isoformat()})

    world.app.clock.advance(days=16)  # day 26: nothing yet (warning 3 days before day 30)
    world.app.jobs.run_pending()
    assert _notes(world, "li") == []
    world.app.clock.advance(days=1)  # day 27: warned, once
    world.app.jobs.run_pending()
    assert _notes(world, "li") == ["'线索 1' returns to the pool in 3 days"]
    world.app.clock.advance(days=1)  # day 28: the daily job runs again, no second warning
    world.app.jobs.run_pending()
    assert len(_notes(world, "li")) == 1
    world.app.clock.advance(days=2)  # day 30: recycled
    world.app.jobs.run_pending()
    lead = world.get("lead", leads[0])
    assert (lead["liaison"], lead["status"]) == (None, "pool")
    assert [e[0] for e in _events(world, leads[0])] == ["claim", "warn", "recycle"]
    assert _events(world, leads[0])[-1] == ("recycle", None, world.users["li"])
    followed = world.get("lead", leads[1])
    assert (followed["liaison"], followed["status"]) == (world.users["li"], "held")

    r = li.post(f"{POOL}/records/{leads[0]}/claim")  # the previous owner may not re-claim during protection
    assert r.status_code == 409 and r.json()["error"]["code"] == "pool_protected"
    assert "recycled from you less than 7 days ago" in r.json()["error"]["message"]
    assert world.client(url, "wang").post(f"{POOL}/records/{leads[0]}/claim").status_code == 200


def test_pl12_a_related_visit_counts_as_follow_up(world: World) -> None:
    [rid] = _leads(world, 1)
    world.app.pools.claim("lead_pool", rid, world.ctx("li"))
    world.app.clock.advance(days=29)
    world.create("visit", {"summary": "call", "lead": rid, "visited_at": world.app.clock.now().isoformat()})
    world.app.clock.advance(days=2)
    assert world.app.pools.auto_recycle() == {"warned": 0, "recycled": 0}
    world.app.clock.advance(days=27)
    assert world.app.pools.auto_recycle() == {"warned": 1, "recycled": 0}
    world.app.clock.advance(days=1)
    assert world.app.pools.auto_recycle() == {"warned": 0, "recycled": 1}
    with world.app.db.read() as conn:
        rows = conn.execute(sa.select(pool_events.c.action).order_by(pool_events.c.id)).scalars().all()
    assert rows == ["claim", "warn", "recycle"]


def test_pl12_pool_events_at_use_the_clock(world: World) -> None:
    [rid] = _leads(world, 1)
    world.app.pools.claim("lead_pool", rid, world.ctx("li"))
    with world.app.db.read() as conn:
        at = conn.execute(sa.select(pool_events.c.at)).scalar_one()
    assert at == world.app.clock.now() and at - timedelta(0) == world.app.clock.now()


def test_pl12_bad_input_gets_a_clear_error_not_a_500(world: World, url: str) -> None:
    [rid] = _leads(world, 1)
    mgr = world.client(url, "mgr")
    cases = [
        (mgr.get("/api/v1/pools/no_such_pool"), 404, "unknown pool 'no_such_pool'"),
        (mgr.post(f"{POOL}/records/abc/claim"), 404, "no record with id 'abc'"),
        (mgr.post(f"{POOL}/records/{rid}/assign", content=b"[1]"), 400, "must be a JSON object"),
        (mgr.post(f"{POOL}/records/{rid}/assign", content=b"{"), 400, "malformed JSON"),
        (mgr.post(f"{POOL}/records/{rid}/assign", json={"user_id": 99999}), 409, "no such active user"),
        (mgr.post(f"{POOL}/records/{rid}/release"), 409, "this record has no holder"),
        (mgr.get("/api/v1/scores/hospital_heat/ranking?limit=x"), 400, "'limit' must be a whole number"),
        (mgr.get("/api/v1/scores/nope/ranking"), 404, "unknown score 'nope'"),
    ]
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in response.json()["error"]["message"], response.text


def test_pl12_pool_pack_check_names_file_and_pointer(tmp_path) -> None:
    import shutil

    from runtime.blueprints import load_pack
    from runtime.blueprints.errors import PackInvalid
    from tests.conftest import PACKS

    pack = tmp_path / "pools_pack"
    shutil.copytree(PACKS / "pools_pack", pack)
    path = pack / "pools" / "lead_pool.json"
    text = path.read_text("utf-8").replace('"owner_field": "liaison"', '"owner_field": "name"')
    path.write_text(text.replace('"pool_values": ["pool"]', '"pool_values": ["sea"]'), "utf-8")
    with pytest.raises(PackInvalid) as info:
        load_pack(pack)
    found = {(e.file, e.pointer): e.message for e in info.value.errors}
    assert found[("pools/lead_pool.json", "/owner_field")] == "'name' must be a user field of 'lead' (or owner_id)"
    assert found[("pools/lead_pool.json", "/pool_values/0")] == "'sea' is not an option of 'lead_status'"
