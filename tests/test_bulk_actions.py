"""Bulk actions over the API: one action on many records, each record on its own (state, role, guard,
permissions, effects in one transaction); the answer says per record done or refused and why."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from runtime.records.context import SYSTEM
from runtime.services import Tessera
from tests.test_rule_base_lookup import Site, lookup_site


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    yield from lookup_site(make_tessera)


def bulk(site: Site, who: str, action: str, body: object, entity: str = "shop"):
    return site(who).post(f"/api/v1/records/{entity}/actions/{action}/bulk", json=body)


def test_bulk_action_runs_each_record_on_its_own_and_reports_refusals(site: Site) -> None:
    cleo, other = site.ids["cleo"], site.ids["other"]
    a = site.create("shop", {"name": "A", "tier": "gold", "city": "Xi'an", "keeper": cleo})
    b = site.create("shop", {"name": "B", "tier": "basic", "city": "Xi'an", "keeper": cleo})
    no_city = site.create("shop", {"name": "C", "keeper": cleo})
    theirs = site.create("shop", {"name": "D", "city": "Xi'an", "keeper": other})
    r = bulk(site, "cleo", "plan_visit", {"ids": [a["id"], b["id"], no_city["id"], theirs["id"], 999],
                                          "input": {"note": "quarterly"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["done"], body["refused"]) == (2, 3)
    results = {x["id"]: x for x in body["results"]}
    assert results[a["id"]]["status"] == results[b["id"]]["status"] == "done"
    assert results[no_city["id"]] == {"id": no_city["id"], "status": "refused", "code": "action_refused",
                                      "reason": "the shop is closed or has no city"}
    assert results[theirs["id"]]["code"] == "not_found"  # another clerk's shop is not even visible
    assert results[999]["code"] == "not_found"
    visits = site.visits()
    assert sorted((v["title"], v["note"]) for v in visits) == [("A / gold monthly", "quarterly"),
                                                               ("B / any shop", "quarterly")]


def test_bulk_state_change_with_role_check_and_nothing_half_done(site: Site) -> None:
    shops = [site.create("shop", {"name": f"S{i}", "city": "Xi'an", "keeper": site.ids["cleo"]}) for i in range(3)]
    ids = [s["id"] for s in shops]
    denied = bulk(site, "cleo", "close", {"ids": ids})
    assert denied.status_code == 200
    assert {x["code"] for x in denied.json()["results"]} == {"action_forbidden"}
    first = bulk(site, "max", "close", {"ids": ids[:2]})
    assert first.json()["done"] == 2
    again = bulk(site, "max", "close", {"ids": ids})
    assert [x["status"] for x in again.json()["results"]] == ["refused", "refused", "done"]
    assert "not possible in the state 'Closed'" in again.json()["results"][0]["reason"]
    assert [site.app.records.get("shop", i, SYSTEM)["status"] for i in ids] == ["closed"] * 3


def test_bulk_effect_failure_rolls_back_only_that_record(site: Site) -> None:
    """A record whose lookup finds no rule is refused as a whole (no half-written record), others go on."""
    with site.app.db.write() as conn:
        table = site.app.registry.tables["service_rule"].main
        conn.execute(table.update().where(table.c.name == "any shop").values(active=False))
    gold = site.create("shop", {"name": "G", "tier": "gold", "city": "Xi'an", "keeper": site.ids["cleo"]})
    basic = site.create("shop", {"name": "B", "tier": "basic", "city": "Xi'an", "keeper": site.ids["cleo"]})
    r = bulk(site, "cleo", "touch", {"ids": [gold["id"], basic["id"]]})
    assert r.json()["done"] == 2  # touch has no lookup
    r = bulk(site, "cleo", "plan_visit", {"ids": [gold["id"], basic["id"]]})
    outcome = {x["id"]: x for x in r.json()["results"]}
    assert outcome[gold["id"]]["status"] == "done"
    assert outcome[basic["id"]] == {"id": basic["id"], "status": "refused", "code": "lookup_no_match",
                                    "reason": "no service rule fits this shop"}
    assert site.app.records.get("shop", basic["id"], SYSTEM)["version"] == basic["version"] + 1  # only touch
    assert [v["shop"] for v in site.visits()] == [gold["id"]]


@pytest.mark.parametrize(
    ("action", "body", "status", "text"),
    [
        ("plan_visit", {"ids": []}, 400, "'ids' must be a non-empty list of record ids"),
        ("plan_visit", {"ids": "1,2"}, 400, "'ids' must be a non-empty list of record ids"),
        ("plan_visit", {"ids": [1, "x"]}, 400, "'x' is not a record id"),
        ("plan_visit", {"ids": list(range(1, 202))}, 400, "at most 200 records per bulk action (201 given)"),
        ("plan_visit", [1, 2], 400, "the request body must be a JSON object"),
        ("fly", {"ids": [1]}, 404, "no action 'fly' on shop"),
        ("plan_visit", {"ids": [1], "input": {"colour": "red"}}, 422, "colour: not a field of the form 'visit_note'"),
        ("plan_visit", {"ids": [1], "input": "x"}, 400, "'input' must be a JSON object"),
    ],
)
def test_bulk_request_errors_are_clear_and_nothing_runs(site: Site, action, body, status, text) -> None:
    shop = site.create("shop", {"name": "A", "city": "Xi'an", "keeper": site.ids["cleo"]})
    r = bulk(site, "cleo", action, body)
    assert r.status_code == status, r.text
    assert text in r.text
    assert site.visits() == [] and site.app.records.get("shop", shop["id"], SYSTEM)["version"] == shop["version"]


def test_bulk_on_an_entity_without_actions_or_unknown_is_404(site: Site) -> None:
    assert bulk(site, "max", "x", {"ids": [1]}, entity="visit").status_code == 404
    assert bulk(site, "max", "x", {"ids": [1]}, entity="nothing").status_code == 404
