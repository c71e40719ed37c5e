"""Demo data goes through the records service and never duplicates; references resolve to what exists."""

from __future__ import annotations

from runtime.demo import load_demo
from runtime.records import Context
from runtime.records.query import ListQuery, parse_query_params
from runtime.services import Tessera

CTX = Context(channel="api", lang="en", is_admin=True)


def test_demo_loads_once_and_resolves_references(tessera: Tessera) -> None:
    pack = tessera.registry.packs["all_fields"]
    assert load_demo(tessera, pack) == {"region_office": 2, "specimen": 2}
    assert load_demo(tessera, pack) == {}, "a second run creates nothing"
    entity = tessera.registry.entity("specimen")
    [sample] = tessera.records.list("specimen", parse_query_params(entity, [("title", "示例一")]), CTX).items
    office = tessera.records.get("region_office", sample["office"], CTX)
    assert office["name"] == "华东办事处"


def test_demo_references_reach_records_that_were_already_there(tessera: Tessera) -> None:
    east = tessera.records.create("region_office", {"name": "华东办事处"}, CTX)
    tessera.records.create("region_office", {"name": "华南办事处"}, CTX)
    assert load_demo(tessera, tessera.registry.packs["all_fields"]) == {"specimen": 2}
    offices = {s["title"]: s["office"] for s in tessera.records.list("specimen", ListQuery(), CTX).items}
    assert offices["示例一"] == east["id"]
