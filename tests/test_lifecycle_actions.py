"""Record lifecycles built from actions, pools and rule actions (PL-08, PL-09, PL-12), over real HTTP.

The lifecycle_pack's prospects show what a pack can now say without code:
* an action may be a pool operation (``"pool": {"id", "operation"}``): claim, assign, release, recycle run
  through the pool with its caps and protection, and the state machine's buttons and the pool agree;
* a pool's records are readable by the people who may claim them, whatever their read scope (own);
* a pool without status_field: a record is in it when it has no holder (customers without a rep);
* ``active_values``: a won prospect no longer counts toward the holding cap and is never recycled;
* an action's input form may be another entity's form: its values feed ``set`` and the effects (a touch
  record created from the prospect's "touch" action), with that form's defaults and conditions;
* rule actions ``update_record`` (a referenced record, with ``target`` = its current values),
  ``upsert_record`` (by id, else by ``match``, else created; ``link_field`` stores its id), a per-action
  ``when`` condition, and the ``union()`` expression function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.api import create_app
from runtime.blueprints import load_pack
from runtime.blueprints.errors import PackInvalid
from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.conftest import PACKS
from tests.support.packs import pack_variant
from tests.support.server import live_server
from tests.test_pools_world import _hash

PACK = PACKS / "lifecycle_pack"
PASSWORD = "Pools-Test-pass-2026"
SYSTEM = Context(channel="system", lang="en", is_admin=True)
API = "/api/v1/records"


@dataclass
class Shop:
    app: Tessera
    url: str
    users: dict[str, int]

    def client(self, who: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "en"})
        r = client.post("/api/v1/auth/login", json={"username": who, "password": PASSWORD})
        assert r.status_code == 200, r.text
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return client

    def create(self, entity: str, values: dict[str, Any]) -> dict[str, Any]:
        return self.app.records.create(entity, values, SYSTEM)

    def get(self, entity: str, rid: int) -> dict[str, Any]:
        return self.app.records.get(entity, rid, SYSTEM)


@pytest.fixture
def shop(make_tessera: Callable[..., Tessera]) -> Iterator[Shop]:
    app = make_tessera("lifecycle_pack")
    admin = PeopleAdmin(app.db, app.registry, app.permissions, clock=app.clock)
    dept = admin.create_department({"name": "Sales", "code": "S"})["id"]
    users = {}
    for username, roles in (("ann", ["rep"]), ("bob", ["rep"]), ("boss", ["boss"]), ("eve", ["auditor"])):
        users[username] = admin.create_user(
            {"username": username, "display_name": username, "department_id": dept, "roles": roles}
        )["id"]
    with app.db.write() as conn:
        conn.execute(pt.users.update().values(password_hash=_hash(), language="en"))
    with live_server(create_app(app, extensions=[])) as url:
        yield Shop(app, url, users)


def act(client: httpx.Client, entity: str, rid: int, action: str, **input: Any) -> httpx.Response:
    return client.post(f"{API}/{entity}/{rid}/actions/{action}", json={"input": input})


def test_pl08_an_action_that_is_a_pool_operation_keeps_the_pools_rules(shop: Shop) -> None:
    ann, boss = shop.client("ann"), shop.client("boss")
    p1, p2, p3 = (shop.create("prospect", {"name": n})["id"] for n in ("Acme", "Bolt", "Crux"))
    r = act(ann, "prospect", p1, "claim")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["rep"]) == ("held", shop.users["ann"])
    assert act(ann, "prospect", p2, "claim").status_code == 200
    r = act(ann, "prospect", p3, "claim")  # the pool's holding cap (2) applies to the action
    assert r.status_code == 409 and r.json()["error"]["code"] == "pool_holding_cap", r.text
    # the manager's assign takes the user from the action's form
    r = act(boss, "prospect", p3, "assign", rep=shop.users["bob"])
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["rep"]) == ("held", shop.users["bob"])
    assert act(ann, "prospect", p2, "assign", rep=shop.users["bob"]).status_code == 403, "a rep may not assign"
    r = act(ann, "prospect", p1, "release")
    assert r.status_code == 200 and (r.json()["status"], r.json()["rep"]) == ("pool", None), r.text
    with shop.app.db.read() as conn:
        assert [e["action"] for e in shop.app.pools.events(conn, "prospect_pool", p1)] == ["claim", "release"]
    r = act(ann, "prospect", p1, "release")
    assert r.status_code == 409, "not possible in the state 'pool'"


def test_pl12_a_pools_records_are_readable_by_those_who_may_claim_them(shop: Shop) -> None:
    free = shop.create("prospect", {"name": "Free"})["id"]
    bobs = shop.create("prospect", {"name": "Bob's"})["id"]
    shop.app.pools.claim("prospect_pool", bobs, Context(user_id=shop.users["bob"], channel="api", lang="en"))
    ann = shop.client("ann")
    listed = {p["id"] for p in ann.get(f"{API}/prospect").json()["items"]}
    assert listed == {free}, "the pool's, not another rep's"
    assert ann.get(f"{API}/prospect/{free}").status_code == 200
    assert ann.get(f"{API}/prospect/{bobs}").status_code == 404
    assert shop.client("eve").get(f"{API}/prospect").json()["items"] == [], "no claim role: the pool stays hidden"
    # reading is all the pool gives: the rep still cannot edit a pool record
    r = ann.patch(f"{API}/prospect/{free}", json={"version": 1, "contact_name": "x"})
    assert r.status_code == 403, r.text


def test_pl08_an_action_form_of_another_entity_creates_that_record(shop: Shop) -> None:
    ann = shop.client("ann")
    rid = shop.create("prospect", {"name": "Delta"})["id"]
    assert act(ann, "prospect", rid, "claim").status_code == 200
    # the form's condition (next_on required) and the other entity's rules (summary >= 3 characters) apply
    r = act(ann, "prospect", rid, "touch", summary="ok")
    assert r.status_code == 422, r.text
    assert {e["field"] for e in r.json()["error"]["errors"]} >= {"next_on"}
    r = act(ann, "prospect", rid, "touch", summary="ok", next_on="2026-12-01")
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "summary", r.text
    assert shop.app.records.list("touch", _all(), SYSTEM).items == []
    r = act(ann, "prospect", rid, "touch", summary="first call", next_on="2026-12-01")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["last_touch"], r.json()["next_touch"]) == (
        "working",
        "2026-11-23",
        "2026-12-01",
    )
    touches = shop.app.records.list("touch", _all(), SYSTEM).items
    assert [(t["summary"], t["on"], t["prospect"], t["by"]) for t in touches] == [
        ("first call", "2026-11-23", rid, shop.users["ann"])
    ], "the form's default date (today) was used"
    r = act(ann, "prospect", rid, "touch", summary="x", nope=1)
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "nope", "not a field of the form"


def test_pl09_upsert_record_links_the_written_record_and_when_skips_an_action(shop: Shop) -> None:
    boss = shop.client("boss")
    first = shop.create("prospect", {"name": "Echo", "tags": ["a"], "contact_name": "Eli"})["id"]
    act(boss, "prospect", first, "assign", rep=shop.users["ann"])
    act(boss, "prospect", first, "touch", summary="meeting", next_on="2026-12-01")
    r = act(boss, "prospect", first, "win")
    assert r.status_code == 200, r.text
    customer = shop.get("customer", r.json()["customer"])
    assert (customer["name"], customer["rep"], customer["tags"], customer["since"]) == (
        "Echo",
        shop.users["ann"],
        ["a"],
        "2026-11-23",
    )
    people = shop.app.records.list("person", _all(), SYSTEM).items
    assert [(p["customer"], p["name"]) for p in people] == [(customer["id"], "Eli")]
    # a second prospect of the same name updates that customer (tags merged); no contact: no person
    shop.app.clock.advance(days=3)
    second = shop.create("prospect", {"name": "Echo", "tags": ["b", "a"]})["id"]
    act(boss, "prospect", second, "assign", rep=shop.users["bob"])
    act(boss, "prospect", second, "touch", summary="call back", next_on="2026-12-09")
    r = act(boss, "prospect", second, "win")
    assert r.status_code == 200, r.text
    assert r.json()["customer"] == customer["id"]
    again = shop.get("customer", customer["id"])
    assert (again["tags"], again["rep"], again["since"]) == (["a", "b"], shop.users["bob"], "2026-11-23")
    assert len(shop.app.records.list("customer", _all(), SYSTEM).items) == 1
    assert len(shop.app.records.list("person", _all(), SYSTEM).items) == 1


def test_pl09_update_record_moves_the_referenced_record_from_a_rule(shop: Shop) -> None:
    rid = shop.create(
        "prospect", {"name": "Fox", "status": "held", "rep": shop.users["ann"], "last_touch": "2026-11-20"}
    )["id"]
    ann = shop.client("ann")
    r = ann.post(
        f"{API}/touch", json={"summary": "older note", "prospect": rid, "on": "2026-11-10", "by": shop.users["ann"]}
    )
    assert r.status_code == 201, r.text
    r = ann.post(
        f"{API}/touch",
        json={
            "summary": "site visit",
            "prospect": rid,
            "on": "2026-11-22",
            "next_on": "2026-11-30",
            "by": shop.users["ann"],
        },
    )
    assert r.status_code == 201, r.text
    shop.app.jobs.run_pending()
    p = shop.get("prospect", rid)
    assert (p["last_touch"], p["next_touch"]) == ("2026-11-22", "2026-11-30"), (
        "max() of the dates; 'record': None skips"
    )


def test_pl12_a_pool_without_status_holds_the_records_without_holder(shop: Shop) -> None:
    c1, c2 = shop.create("customer", {"name": "Gulf"})["id"], shop.create("customer", {"name": "Hale"})["id"]
    ann, boss = shop.client("ann"), shop.client("boss")
    assert {c["id"] for c in ann.get("/api/v1/pools/customer_pool").json()["records"]} == {c1, c2}
    r = act(ann, "customer", c1, "take")
    assert r.status_code == 200 and r.json()["rep"] == shop.users["ann"], r.text
    r = act(ann, "customer", c2, "take")
    assert r.status_code == 409 and r.json()["error"]["code"] == "pool_claim_cap", r.text
    r = act(boss, "customer", c2, "give", rep=shop.users["bob"])
    assert r.status_code == 200 and r.json()["rep"] == shop.users["bob"], r.text
    assert ann.get(f"{API}/customer/{c2}").status_code == 404, "held by bob: out of the pool, out of ann's sight"
    actions = {a["id"]: a for a in ann.get(f"{API}/customer/{c1}/actions").json()["actions"]}
    assert actions["take"]["enabled"] is False and actions["take"]["to"] is None


def test_pl12_active_values_leave_won_records_out_of_holdings_and_recycling(shop: Shop) -> None:
    boss = shop.client("boss")
    ann_ctx = Context(user_id=shop.users["ann"], channel="api", lang="en")
    won = shop.create("prospect", {"name": "Iris"})["id"]
    act(boss, "prospect", won, "assign", rep=shop.users["ann"])
    act(boss, "prospect", won, "touch", summary="meeting", next_on="2026-12-01")
    assert act(boss, "prospect", won, "win").status_code == 200
    held = shop.create("prospect", {"name": "Jade"})["id"]
    shop.app.pools.claim("prospect_pool", held, ann_ctx)
    with shop.app.db.read() as conn:
        assert shop.app.pools.standing(conn, shop.app.pools.get("prospect_pool"), shop.users["ann"]).holding == 1
    shop.app.clock.advance(days=11)
    assert shop.app.pools.auto_recycle() == {"warned": 0, "recycled": 1}
    assert shop.get("prospect", won)["status"] == "won" and shop.get("prospect", won)["rep"] == shop.users["ann"]
    assert shop.get("prospect", held)["status"] == "pool"


@pytest.mark.parametrize(
    ("rel", "change", "pointer", "words"),
    [
        (
            "state_machines/prospect.json",
            lambda d: d["transitions"][0].update(to="working"),
            "/transitions/0/to",
            "the pool's claim sets the state 'held'",
        ),
        (
            "state_machines/prospect.json",
            lambda d: d["transitions"][0].update(set={"name": "'x'"}),
            "/transitions/0/set",
            "a pool operation action has no 'set'",
        ),
        (
            "state_machines/prospect.json",
            lambda d: d["transitions"][0].update(background=True),
            "/transitions/0/background",
            "a pool operation runs at once",
        ),
        (
            "state_machines/prospect.json",
            lambda d: d["transitions"][0]["pool"].update(id="nopool"),
            "/transitions/0/pool/id",
            "unknown pool 'nopool'",
        ),
        (
            "state_machines/prospect.json",
            lambda d: d["transitions"][4]["effects"][0].update(link_field="name"),
            "/transitions/4/effects/0/link_field",
            "'name' is not a reference field to 'customer'",
        ),
        (
            "state_machines/prospect.json",
            lambda d: d["transitions"][4]["effects"][1].update(when="contact_nam is not None"),
            "/transitions/4/effects/1/when",
            "condition does not compile",
        ),
        (
            "state_machines/prospect.json",
            lambda d: d["transitions"][3]["set"].update(last_touch="onn"),
            "/transitions/3/set/last_touch",
            "does not compile",
        ),
        (
            "rules/touch_moves_prospect.json",
            lambda d: d["actions"][0]["values"].update(last_touch="target['x'] + "),
            "/actions/0/values/last_touch",
            "does not compile",
        ),
        (
            "pools/customer_pool.json",
            lambda d: d.update(held_value="held"),
            "",
            "held_value",
        ),
    ],
)
def test_pl08_pl09_pack_mistakes_in_lifecycles_are_reported(
    tmp_path: Path, rel: str, change: Callable[[dict], None], pointer: str, words: str
) -> None:
    with pytest.raises(PackInvalid) as caught:
        load_pack(pack_variant(PACK, tmp_path / "variant", lambda docs: change(docs[rel])))
    found = [(e.file, e.pointer, e.message) for e in caught.value.errors]
    assert any(f == rel and p == pointer and words in m for f, p, m in found), found


def _all() -> Any:
    from runtime.records import ListQuery

    return ListQuery(limit=200)
