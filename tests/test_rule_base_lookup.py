"""Rule-base lookups (decision tables) in rule actions and action effects, and actions that keep the state.

A shop's "plan a visit" action looks up the first active service rule that fits the shop (by priority) and
creates the visit from it; with no fitting rule the user is told why and nothing is written. A rule looks up
the visit's shop by reference and then a rule for its tier; no match skips the action with a note in the
run log. The checker names unknown entities and fields of lookups."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import sqlalchemy as sa

from runtime.api import create_app
from runtime.automation.rules.tables import rule_runs
from runtime.blueprints import load_pack
from runtime.blueprints.errors import PackInvalid
from runtime.records.context import SYSTEM
from runtime.records.query import Filter, ListQuery
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.conftest import PACKS
from tests.support.packs import pack_variant
from tests.support.server import live_server

PASSWORD = "Lookup-test-pass-2026"
PEOPLE = {"cleo": ["clerk"], "max": ["manager"], "other": ["clerk"]}
LOOKUP = PACKS / "lookup_pack"


@dataclass
class Site:
    app: Tessera
    url: str
    ids: dict[str, int]
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def __call__(self, who: str) -> httpx.Client:
        if who not in self.clients:
            client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "en"})
            r = client.post("/api/v1/auth/login", json={"username": who, "password": PASSWORD})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            self.clients[who] = client
        return self.clients[who]

    def create(self, entity: str, values: dict) -> dict:
        return self.app.records.create(entity, values, SYSTEM)

    def visits(self) -> list[dict]:
        return self.app.records.list("visit", ListQuery(sort=[("id", False)], limit=100), SYSTEM).items


def lookup_site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    app = make_tessera("lookup_pack")
    ids = {}
    for name, roles in PEOPLE.items():
        ids[name] = app.users.create(name, name.title(), PASSWORD, language="zh" if name == "other" else "en").id
        with app.db.write() as conn:
            for role in roles:
                conn.execute(pt.user_roles.insert().values(user_id=ids[name], role_id=role))
    site = Site(app, "", ids)
    site.create("service_rule", {"name": "gold monthly", "priority": 10, "tier": "gold", "interval_days": 30,
                                 "kind": "onsite"})
    site.create("service_rule", {"name": "gold call", "priority": 20, "tier": "gold", "interval_days": 14,
                                 "kind": "phone"})
    site.create("service_rule", {"name": "retired", "priority": 1, "interval_days": 1, "kind": "phone",
                                 "active": False})
    site.create("service_rule", {"name": "any shop", "priority": 90, "interval_days": 60, "kind": "phone"})
    with live_server(create_app(app, extensions=[])) as url:
        site.url = url
        yield site
        for client in site.clients.values():
            client.close()


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    yield from lookup_site(make_tessera)


def act(site: Site, who: str, shop: int, action: str, **body: object) -> httpx.Response:
    return site(who).post(f"/api/v1/records/shop/{shop}/actions/{action}", json=body)


def test_lookup_takes_the_first_matching_rule_by_priority_and_keeps_the_shop_state(site: Site) -> None:
    cleo = site.ids["cleo"]
    gold = site.create("shop", {"name": "Gold St", "tier": "gold", "city": "Xi'an", "keeper": cleo})
    plain = site.create("shop", {"name": "Plain St", "tier": "basic", "city": "Xi'an", "keeper": cleo})
    recent = site.create("shop", {"name": "Seen St", "tier": "gold", "city": "Xi'an", "keeper": cleo,
                                  "last_visit": "2026-11-10"})
    listed = site("cleo").get(f"/api/v1/records/shop/{gold['id']}/actions").json()
    # the action set's actions come with the machine's; the clerk may not close
    assert [(a["id"], a["enabled"], a["to"]) for a in listed["actions"]] == [
        ("close", False, "closed"), ("plan_visit", True, "open"), ("touch", True, "open")]
    r = act(site, "cleo", gold["id"], "plan_visit", input={"note": "bring samples"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open"  # the action keeps the state
    r = act(site, "cleo", plain["id"], "plan_visit")
    assert r.status_code == 200, r.text
    r = act(site, "cleo", recent["id"], "plan_visit")  # visited 13 days ago: the on-site rule does not fit
    assert r.status_code == 200, r.text
    visits = site.visits()
    assert [(v["title"], v["due"], v["kind"], v["note"]) for v in visits] == [
        ("Gold St / gold monthly", "2026-12-23", "onsite", "bring samples"),
        ("Plain St / any shop", "2027-01-22", "phone", None),
        ("Seen St / gold call", "2026-12-07", "phone", None),
    ]
    rules = {r["name"]: r["id"] for r in site.app.records.list("service_rule", ListQuery(), SYSTEM).items}
    assert [v["rule"] for v in visits] == [rules["gold monthly"], rules["any shop"], rules["gold call"]]
    assert all(v["keeper"] == cleo for v in visits)
    # the same action again is a new run, not a replay of the first
    assert act(site, "cleo", gold["id"], "plan_visit").status_code == 200
    assert len(site.visits()) == 4


def test_action_keeping_the_state_sets_values_and_shows_no_state_change(site: Site) -> None:
    shop = site.create("shop", {"name": "Touch St", "city": "Xi'an", "keeper": site.ids["cleo"]})
    r = act(site, "cleo", shop["id"], "touch")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["last_visit"]) == ("open", "2026-11-23")
    closed = act(site, "max", shop["id"], "close")
    assert closed.json()["status"] == "closed"
    refused = act(site, "max", shop["id"], "plan_visit")
    assert refused.status_code == 409 and "closed" in refused.json()["error"]["message"]


def test_no_matching_rule_refuses_the_interactive_action_and_writes_nothing(site: Site) -> None:
    with site.app.db.write() as conn:  # retire the catch-all: a basic shop then fits no rule
        table = site.app.registry.tables["service_rule"].main
        conn.execute(sa.update(table).where(table.c.name == "any shop").values(active=False))
    shop = site.create("shop", {"name": "Lonely St", "tier": "basic", "city": "Xi'an", "keeper": site.ids["cleo"]})
    r = act(site, "cleo", shop["id"], "plan_visit", input={"note": "x"})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["message"] == "no service rule fits this shop"
    theirs = site.create("shop", {"name": "Far St", "tier": "basic", "city": "Xi'an", "keeper": site.ids["other"]})
    zh = act(site, "other", theirs["id"], "plan_visit")  # a Chinese-speaking clerk reads the pack's Chinese text
    assert zh.json()["error"]["message"] == "没有适用的服务规则"
    assert site.visits() == []
    assert site.app.records.get("shop", shop["id"], SYSTEM)["version"] == shop["version"]  # nothing half-done


def test_rule_follows_a_reference_then_looks_up_and_skips_with_a_note_when_nothing_fits(site: Site) -> None:
    cleo = site.ids["cleo"]
    gold = site.create("shop", {"name": "Gold St", "tier": "gold", "city": "Xi'an", "keeper": cleo})
    basic = site.create("shop", {"name": "Basic St", "tier": "basic", "city": "Xi'an", "keeper": cleo})
    site.create("visit", {"title": "first", "shop": gold["id"], "due": "2026-11-25", "note": "chain", "keeper": cleo})
    site.create("visit", {"title": "second", "shop": basic["id"], "due": "2026-11-25", "note": "chain", "keeper": cleo})
    site.app.jobs.run_pending()
    found = site.app.records.list("visit", ListQuery(filters=[Filter("note", "eq", "followed")]), SYSTEM).items
    # order_by -priority: of the gold phone rules the highest number first
    assert [(v["title"], v["due"]) for v in found] == [("Gold St / follow-up / gold call", "2026-12-09")]
    with site.app.db.read() as conn:
        runs = conn.execute(sa.select(rule_runs).where(rule_runs.c.rule_id == "visit_chain")).all()
    notes = sorted((r.status, r.error or "") for r in runs)
    assert notes == [("ok", ""), ("ok", "action 0 (create_record) skipped: no 'service_rule' record matches")]


def test_checker_names_unknown_entities_and_fields_of_lookups(tmp_path) -> None:
    def broken(docs: dict) -> None:
        effect = docs["state_machines/shop_visits.json"]["transitions"][0]["effects"][0]
        effect["lookup"]["where"] += " and rule[\"colour\"] == 'red'"
        effect["lookup"]["order_by"] = "rank"
        effect["values"]["kind"] = "rule[\"flavour\"]"
        chain = docs["rules/visit_chain.json"]["actions"][0]
        chain["lookup"][0]["entity"] = "store"
        chain["lookup"][1]["where"] = "rule[\"tier\"] == s[\"grade\"] and"

    with pytest.raises(PackInvalid) as caught:
        load_pack(pack_variant(LOOKUP, tmp_path / "variant", broken))
    found = {(e.file, e.pointer, e.message) for e in caught.value.errors}
    assert ("state_machines/shop_visits.json", "/transitions/0/effects/0/lookup/where",
            "unknown field 'colour' of entity 'service_rule' in rule[\"colour\"]") in found
    assert ("state_machines/shop_visits.json", "/transitions/0/effects/0/lookup/order_by",
            "unknown field 'rank' of entity 'service_rule'") in found
    assert ("state_machines/shop_visits.json", "/transitions/0/effects/0/values/kind",
            "unknown field 'flavour' of entity 'service_rule' (rule[...])") in found
    assert ("rules/visit_chain.json", "/actions/0/lookup/0/entity",
            "unknown entity 'store' (not an entity of this pack)") in found
    assert any(f == "rules/visit_chain.json" and p == "/actions/0/lookup/1/where" and "does not compile" in m
               for f, p, m in found)


def test_checker_refuses_a_state_change_in_an_action_set_and_duplicate_action_ids(tmp_path) -> None:
    def broken(docs: dict) -> None:
        actions = docs["state_machines/shop_visits.json"]["transitions"]
        actions[1]["to"] = "closed"
        actions.append({"id": "close", "label": {"zh": "关", "en": "Close"}})

    with pytest.raises(PackInvalid) as caught:
        load_pack(pack_variant(LOOKUP, tmp_path / "variant", broken))
    found = {(e.file, e.pointer, e.message) for e in caught.value.errors}
    assert ("state_machines/shop_visits.json", "/transitions/1/to",
            "an action set without 'field' and 'states' cannot change the state; omit 'to'") in found
    assert ("state_machines/shop_visits.json", "/transitions/2/id",
            "action 'close' is also in state_machines/shop.json") in found
