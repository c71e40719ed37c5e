"""Segments (saved target groups of records): shipped in a pack or saved by a user, listed through the records
service so the reader's scope applies, refused with a clear 400 when a filter is wrong. Test pack:
tests/packs/segments_pack (the scoped_crm people: mgr manages team_a with l1 and l3; l2 is in team_b)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime.blueprints import PackInvalid, load_pack
from runtime.records import Context
from runtime.services import Tessera
from tests.conftest import PACKS
from tests.support.packs import pack_variant
from tests.support.people import People, build_scoped
from tests.support.server import live_server

API = "/api/v1/segments"
PACK = PACKS / "segments_pack"


@pytest.fixture(name="people")
def segments_people(make_tessera: Callable[..., Tessera]) -> Iterator[People]:
    from runtime.api import create_app

    scoped = build_scoped(make_tessera("segments_pack"))
    system = Context(channel="system", lang="en", is_admin=True)
    scoped.tessera.records.create("hospital", {"name": "Shanghai clinic", "city": "Shanghai", "budget": 900}, system)
    scoped.tessera.records.create("hospital", {"name": "Unfunded", "city": "Hangzhou", "budget": 100}, system)
    result = People(**{k: getattr(scoped, k) for k in ("tessera", "admin", "departments", "users", "hospitals")})
    with live_server(create_app(scoped.tessera, extensions=[])) as url:
        result.url = url
        try:
            yield result
        finally:
            for client in result._clients:
                client.close()


def names(page: dict) -> list[str]:
    return sorted(r["name"] for r in page["items"])


def test_segment_lists_its_records_within_each_readers_scope(people: People) -> None:
    admin, mgr, l1 = people.client("admin"), people.client("mgr"), people.client("l1")
    assert "hangzhou_funded" in [s["id"] for s in admin.get(API).json()["items"]]
    everyone = admin.get(f"{API}/hangzhou_funded/records").json()
    assert everyone["total"] == 5 and everyone["total_is_exact"]  # 5 users' hospitals; not Shanghai, not Unfunded
    team = mgr.get(f"{API}/hangzhou_funded/records").json()
    assert names(team) == ["Hospital of L1", "Hospital of L3", "Hospital of MGR"]  # team_a and its sub-team
    assert team["total"] == 3
    own = l1.get(f"{API}/hangzhou_funded/records").json()
    assert names(own) == ["Hospital of L1"] and own["total"] == 1
    segment = own["segment"]
    assert segment["list_url"] == "/v/hospital_list?city=Hangzhou&budget__gte=500"
    page = l1.get(f"/api/v1/records/hospital?{segment['list_url'].split('?')[1]}").json()
    assert names(page) == names(own), "opening the segment as a list gives the same records"


def test_segment_limited_to_a_role_is_invisible_to_others(people: People) -> None:
    mgr, l1 = people.client("mgr"), people.client("l1")
    assert "unrated_for_managers" in [s["id"] for s in mgr.get(API).json()["items"]]
    assert "unrated_for_managers" not in [s["id"] for s in l1.get(API).json()["items"]]
    assert l1.get(f"{API}/unrated_for_managers/records").status_code == 404
    nobody = people.client("nobody")  # may read no hospital at all
    assert nobody.get(API).json()["items"] == []


def test_user_saves_personal_and_shared_segments(people: People) -> None:
    l1, l2, mgr = people.client("l1"), people.client("l2"), people.client("mgr")
    city = {"field": "city", "op": "eq", "value": "Hangzhou"}
    body = {"entity": "hospital", "label": "My Hangzhou", "filters": [city]}
    mine = l1.post(API, json=body)
    assert mine.status_code == 201, mine.text
    assert mine.json()["id"].startswith("user-") and mine.json()["source"] == "user"
    assert l2.get(f"{API}/{mine.json()['id']}").status_code == 404, "a personal segment is private"
    shared = mgr.post(API, json={**body, "label": "Team targets", "shared_role": "liaison"})
    assert shared.status_code == 201, shared.text
    sid = shared.json()["id"]
    assert names(l2.get(f"{API}/{sid}/records").json()) == ["Hospital of L2"], "shared, but scopes still apply"
    assert names(mgr.get(f"{API}/{sid}/records").json()) == ["Hospital of L1", "Hospital of L3", "Hospital of MGR"]
    assert l2.delete(f"{API}/{sid}").status_code == 403
    refused = l1.post(API, json={**body, "shared_role": "manager"})
    assert refused.status_code == 403 and "role you hold" in refused.json()["error"]["message"]
    assert mgr.delete(f"{API}/{sid}").status_code == 204
    assert l2.get(f"{API}/{sid}").status_code == 404


@pytest.mark.parametrize(
    ("flt", "fragment"),
    [
        ({"field": "colour", "op": "eq", "value": "red"}, "unknown field 'colour'"),
        ({"field": "city", "op": "near", "value": "x"}, "unknown filter operator 'near'"),
        ({"field": "budget", "op": "gte", "value": "lots"}, "invalid value for 'budget'"),
        ({"field": "city"}, "needs a 'field' and an 'op'"),
    ],
)
def test_a_bad_filter_is_refused_with_a_clear_400(people: People, flt: dict, fragment: str) -> None:
    l1 = people.client("l1")
    r = l1.post(API, json={"entity": "hospital", "label": "Bad", "filters": [flt]})
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]["message"] and "filter 1" in r.json()["error"]["message"]


def test_bad_save_requests_are_4xx_never_500(people: People) -> None:
    l1 = people.client("l1")
    assert l1.post(API, json={"entity": "nothing", "label": "x", "filters": []}).status_code == 400
    assert l1.post(API, json={"entity": "hospital", "label": "", "filters": []}).status_code == 400
    assert l1.post(API, json={"entity": "hospital", "label": "x", "filters": "city=1"}).status_code == 400
    assert l1.post(API, json={"entity": "hospital", "label": "x", "filters": [], "colour": 1}).status_code == 400
    assert l1.post(API, json=["not", "an", "object"]).status_code == 400
    assert l1.get(f"{API}/hangzhou_funded/records?limit=0").status_code == 400
    assert l1.get(f"{API}/no_such_segment/records").status_code == 404


def test_shipped_segments_are_validated_with_the_pack(tmp_path: Path) -> None:
    def broken(docs: dict) -> None:
        docs["segments/hangzhou_funded.json"]["filters"][1] = {"field": "budget", "op": "contains", "value": "x"}
        docs["segments/unrated_for_managers.json"]["roles"] = ["chief"]
        docs["segments/unrated_for_managers.json"]["filters"].append({"field": "nope", "op": "eq", "value": 1})

    with pytest.raises(PackInvalid) as caught:
        load_pack(pack_variant(PACK, tmp_path / "bad", broken))
    text = "\n".join(f"{e.file} {e.pointer}: {e.message}" for e in caught.value.errors)
    assert "segments/hangzhou_funded.json /filters/1: the filter 'contains' does not apply" in text
    assert "unknown role 'chief'" in text and "unknown field 'nope'" in text
    cli = Path(sys.executable).parent / "tessera"
    out = subprocess.run([str(cli), "pack", "validate", str(PACK)], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "valid" in out.stdout
