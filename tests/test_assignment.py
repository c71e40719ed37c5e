"""Assignment (PL-12): round robin, load balanced, rule based, direct specs; the cursor survives restarts."""

from __future__ import annotations

from collections import Counter

import pytest

from runtime.automation.assignment import assign
from runtime.errors import BadRequest
from tests.test_pools_world import World, build_world


@pytest.fixture
def world(make_tessera) -> World:
    return build_world(make_tessera)


def _assign(w: World, spec: dict, record: dict | None = None, entity: str = "lead") -> int | None:
    with w.app.db.write() as conn:
        return assign(w.app, conn, spec, record, entity=entity)


def test_pl12_round_robin_assigns_five_leads_2_2_1(world: World) -> None:
    spec = {"role": "liaison", "strategy": "round_robin"}
    liaisons = [world.users["li"], world.users["wang"], world.users["zhao"]]
    picked = [_assign(world, spec, {"name": f"lead {i}"}) for i in range(5)]
    assert picked == [liaisons[0], liaisons[1], liaisons[2], liaisons[0], liaisons[1]]
    assert sorted(Counter(picked).values()) == [1, 2, 2]
    picked.append(_assign(world, spec, {"name": "lead 6"}))  # a sixth continues the turn: 2/2/2
    assert Counter(picked) == {u: 2 for u in liaisons}


def test_pl12_round_robin_cursor_is_kept_in_the_database(world: World, make_tessera) -> None:
    spec = {"role": "liaison", "strategy": "round_robin", "key": "leads"}
    first = _assign(world, spec)
    again = make_tessera()  # another process on the same database continues the turn
    with again.db.write() as conn:
        second = assign(again, conn, spec, None, entity="lead")
    assert first == world.users["li"] and second == world.users["wang"]


def test_pl12_round_robin_rolled_back_turn_is_not_used(world: World) -> None:
    spec = {"role": "liaison", "strategy": "round_robin"}
    with pytest.raises(RuntimeError), world.app.db.write() as conn:
        assign(world.app, conn, spec, None)
        raise RuntimeError("the caller's write failed")
    assert _assign(world, spec) == world.users["li"]


def test_pl12_load_balanced_picks_fewest_open_holdings(world: World) -> None:
    li, wang, zhao = world.users["li"], world.users["wang"], world.users["zhao"]
    for owner, status in [(li, "held"), (li, "held"), (wang, "held"), (zhao, "won"), (zhao, "won")]:
        world.create("lead", {"name": "x", "liaison": owner, "status": status})
    spec = {"role": "liaison", "strategy": "load_balanced", "holder_field": "liaison", "open_when": "status == 'held'"}
    assert _assign(world, spec) == zhao  # zhao's leads are won: none open
    world.create("lead", {"name": "y", "liaison": zhao, "status": "held"})
    world.create("lead", {"name": "z", "liaison": zhao, "status": "held"})
    assert _assign(world, spec) == wang


def test_pl12_rule_based_first_matching_rule_wins(world: World) -> None:
    spec = {
        "rules": [
            {"when": "beds >= 500", "assign": {"user": "mgr"}},
            {"when": "region == 'east'", "assign": {"role": "liaison", "strategy": "round_robin"}},
        ],
        "default": {"user": "zhao"},
    }
    assert _assign(world, spec, {"beds": 800, "region": "east"}) == world.users["mgr"]
    assert _assign(world, spec, {"beds": 100, "region": "east"}) == world.users["li"]
    assert _assign(world, spec, {"beds": 100, "region": "north"}) == world.users["zhao"]
    assert _assign(world, {"rules": [{"when": "beds > 1", "assign": {"user": "li"}}]}, {"beds": 0}) is None


def test_pl12_direct_specs_and_department_restriction(world: World) -> None:
    assert _assign(world, {"user": "wang"}) == world.users["wang"]
    assert _assign(world, {"user": "no-such-user"}) is None
    assert _assign(world, {"field": "liaison"}, {"liaison": world.users["zhao"]}) == world.users["zhao"]
    assert _assign(world, {"owner": True}, {"owner_id": world.users["li"]}) == world.users["li"]
    east = {"role": "liaison", "department": "@record"}
    assert _assign(world, east, {"department_id": world.departments["east"]}) == world.users["li"]
    assert _assign(world, east, {"department_id": world.departments["west"]}) is None  # no liaison in the west
    with pytest.raises(BadRequest, match="strategy"):
        _assign(world, {"role": "liaison", "strategy": "random"})
    with pytest.raises(BadRequest, match="names user, field, owner, role or rules"):
        _assign(world, {"nobody": 1})


def test_pl12_round_robin_two_concurrent_writers_take_different_turns(world: World) -> None:
    import threading
    import time

    spec = {"role": "liaison", "strategy": "round_robin"}
    _assign(world, spec)  # the cursor row exists: both writers update the same row
    barrier = threading.Barrier(2)
    picked: list[int | None] = []

    def writer() -> None:
        barrier.wait()
        with world.app.db.write() as conn:
            picked.append(assign(world.app, conn, spec, None, entity="lead"))
            time.sleep(0.3)  # hold the transaction open: the other writer must wait for the cursor row

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(picked) == sorted([world.users["wang"], world.users["zhao"]])
