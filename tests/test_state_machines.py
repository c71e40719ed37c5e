"""State machines and record actions (PL-08) over real HTTP: a lead goes claim -> follow up -> convert,
with a role refusal, a guard refusal, an input form, and direct edits of the state refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from runtime.api import create_app
from runtime.records.context import SYSTEM
from runtime.records.query import ListQuery
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.conftest import ADMIN_PASSWORD
from tests.support.server import live_server

PASSWORD = "Rules-test-pass-2026"
PEOPLE = {"sam": ["sales"], "mia": ["sales_manager"]}


@dataclass
class Site:
    app: Tessera
    url: str
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def __call__(self, who: str) -> httpx.Client:
        if who not in self.clients:
            client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "en"})
            password = ADMIN_PASSWORD if who == "admin" else PASSWORD
            r = client.post("/api/v1/auth/login", json={"username": who, "password": password})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            self.clients[who] = client
        return self.clients[who]


def add_people(app: Tessera) -> dict[str, int]:
    ids = {"admin": app.users.create("admin", "Admin", ADMIN_PASSWORD, is_admin=True, language="en").id}
    for name, roles in PEOPLE.items():
        ids[name] = app.users.create(name, name.title(), PASSWORD, language="en").id
        with app.db.write() as conn:
            for role in roles:
                conn.execute(pt.user_roles.insert().values(user_id=ids[name], role_id=role))
    return ids


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    app = make_tessera("rules_pack")
    add_people(app)
    with live_server(create_app(app, extensions=[])) as url:
        s = Site(app, url)
        yield s
        for client in s.clients.values():
            client.close()


def patch(site: Site, who: str, lead: int, values: dict) -> httpx.Response:
    version = site(who).get(f"/api/v1/records/lead/{lead}").json()["version"]
    return site(who).patch(f"/api/v1/records/lead/{lead}", json={**values, "version": version})


def act(site: Site, who: str, lead: int, action: str, **body: object) -> httpx.Response:
    return site(who).post(f"/api/v1/records/lead/{lead}/actions/{action}", json=body)


def test_pl08_lead_claim_follow_up_convert_with_role_and_guard_refusals_over_http(site: Site) -> None:
    r = site("sam").post("/api/v1/records/lead", json={"name": "City hospital", "score": 50})
    assert r.status_code == 201, r.text
    lead = r.json()
    assert lead["status"] == "new"  # the machine's initial state
    listed = site("sam").get(f"/api/v1/records/lead/{lead['id']}/actions").json()
    assert listed["state"] == "new" and listed["state_label"] == "New"
    assert [(a["id"], a["enabled"]) for a in listed["actions"]] == [("claim", True), ("close", False)]
    assert "sales_manager" in listed["actions"][1]["reason"]

    r = act(site, "sam", lead["id"], "claim")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "claimed"
    r = act(site, "sam", lead["id"], "claim")  # not possible twice
    assert r.status_code == 409 and "not possible in the state 'Claimed'" in r.json()["error"]["message"]
    r = act(site, "sam", lead["id"], "recycle")  # a manager's action
    assert r.status_code == 403 and "sales_manager" in r.json()["error"]["message"]

    r = act(site, "sam", lead["id"], "follow_up")  # its input form requires the note
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["error"]["errors"]] == ["follow_up_note"]
    r = act(site, "sam", lead["id"], "follow_up", input={"follow_up_note": "Called the director", "score": 99})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "score"  # not a field of the form
    r = act(site, "sam", lead["id"], "follow_up", input={"follow_up_note": "Called the director"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "following" and r.json()["follow_up_note"] == "Called the director"

    r = act(site, "sam", lead["id"], "convert")
    assert r.status_code == 409 and "score of 60 or more" in r.json()["error"]["message"]
    guard = next(
        a
        for a in site("sam").get(f"/api/v1/records/lead/{lead['id']}/actions").json()["actions"]
        if a["id"] == "convert"
    )
    assert guard["enabled"] is False and "score of 60" in guard["reason"]
    r = patch(site, "sam", lead["id"], {"score": 75})
    assert r.status_code == 200, r.text
    r = act(site, "sam", lead["id"], "convert", version=3)  # a stale version is refused
    assert r.status_code == 409
    current = site("sam").get(f"/api/v1/records/lead/{lead['id']}").json()["version"]
    r = act(site, "sam", lead["id"], "convert", version=current)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "converted" and done["converted_on"] == "2026-11-23"  # set: today()
    logs = site.app.records.list("rule_log", ListQuery(limit=50), SYSTEM).items
    assert [(x["message"], x["ref_id"]) for x in logs if x["kind"] == "convert"] == [
        ("converted City hospital", lead["id"])
    ]


def test_pl08_state_field_cannot_be_edited_directly(site: Site) -> None:
    lead = site("sam").post("/api/v1/records/lead", json={"name": "Clinic"}).json()
    r = patch(site, "sam", lead["id"], {"status": "converted"})
    assert r.status_code == 422
    [error] = r.json()["error"]["errors"]
    assert error["field"] == "status" and error["code"] == "state_via_action" and "Claim" in error["message"]
    r = patch(site, "admin", lead["id"], {"status": "converted"})
    assert r.status_code == 422  # administrators too: the state changes by actions only
    r = site("sam").post("/api/v1/records/lead", json={"name": "Skipper", "status": "converted"})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["code"] == "state_initial"
    r = patch(site, "sam", lead["id"], {"status": "new", "score": 5})
    assert r.status_code == 200  # an unchanged state is not an edit of it


def test_pl08_unknown_action_and_entity_without_machine_are_404(site: Site) -> None:
    lead = site("sam").post("/api/v1/records/lead", json={"name": "Clinic"}).json()
    r = act(site, "sam", lead["id"], "teleport")
    assert r.status_code == 404 and "claim" in r.json()["error"]["message"]
    contract = site("admin").post("/api/v1/records/contract", json={"name": "C"}).json()
    r = site("admin").post(f"/api/v1/records/contract/{contract['id']}/actions/claim", json={})
    assert r.status_code == 404 and "no state machine" in r.json()["error"]["message"]
    r = site("sam").post(
        f"/api/v1/records/lead/{lead['id']}/actions/claim", content=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400


def test_pl09_inbound_event_over_http(site: Site) -> None:
    r = site("sam").post(
        "/api/v1/events/payment.received", json={"amount": 10, "payer": "Clinic"}, headers={"Idempotency-Key": "pay-1"}
    )
    assert r.status_code == 202 and r.json()["queued"] == 1
    r = site("sam").post(
        "/api/v1/events/payment.received", json={"amount": 10, "payer": "Clinic"}, headers={"Idempotency-Key": "pay-1"}
    )
    assert r.json()["queued"] == 0  # the same delivery twice
    assert site("sam").post("/api/v1/events/nothing.here", json={}).status_code == 404
    assert httpx.post(site.url + "/api/v1/events/payment.received", json={}).status_code == 401
    site.app.jobs.run_pending()
    logs = site.app.records.list("rule_log", ListQuery(limit=50), SYSTEM).items
    assert [x["message"] for x in logs if x["kind"] == "payment"] == ["paid 10 by Clinic"]


def _converted_lead(site: Site, name: str) -> int:
    lead = site("sam").post("/api/v1/records/lead", json={"name": name, "score": 75}).json()
    assert act(site, "sam", lead["id"], "claim").status_code == 200
    assert act(site, "sam", lead["id"], "follow_up", input={"follow_up_note": "met"}).status_code == 200
    assert act(site, "sam", lead["id"], "convert").status_code == 200
    return lead["id"]


def _logs(site: Site, kind: str) -> list[str]:
    logs = site.app.records.list("rule_log", ListQuery(limit=50), SYSTEM).items
    return [x["message"] for x in logs if x["kind"] == kind]


def _told(site: Site, who: str) -> list[dict]:
    return site(who).get("/api/v1/notifications", params={"limit": 50}).json()["items"]


def test_pl08_a_background_action_is_checked_at_once_queued_then_run_as_its_requester(site: Site) -> None:
    lead = _converted_lead(site, "Harbour clinic")
    r = act(site, "sam", lead, "archive")  # refused at once, nothing queued: the role
    assert r.status_code == 403 and "sales_manager" in r.json()["error"]["message"]
    r = act(site, "mia", lead, "archive")
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "converted" and r.json()["action_queued"]["action"] == "archive"
    assert _logs(site, "archive") == []  # the request did not run it
    site.app.jobs.run_pending()
    done = site("mia").get(f"/api/v1/records/lead/{lead}").json()
    assert done["status"] == "closed" and _logs(site, "archive") == ["archived Harbour clinic"]
    audit = site("admin").get(f"/api/v1/records/lead/{lead}/history").json()["items"]
    assert audit[0]["actor_id"] == site.app.users.by_username("mia").id  # written as the person who asked
    [told] = [n for n in _told(site, "mia") if n["link"] == f"/r/lead/{lead}"]
    assert told["title"] == "Archive done: Harbour clinic"


def test_pl08_a_background_action_refused_when_it_runs_tells_why_and_writes_nothing(site: Site) -> None:
    lead = _converted_lead(site, "Hill clinic")
    assert act(site, "mia", lead, "archive").status_code == 202
    assert patch(site, "sam", lead, {"score": 10}).status_code == 200  # the guard no longer holds
    site.app.jobs.run_pending()
    site.app.jobs.run_pending()  # a refusal is an outcome: not retried, told once
    assert site("mia").get(f"/api/v1/records/lead/{lead}").json()["status"] == "converted"
    assert _logs(site, "archive") == []
    [told] = [n for n in _told(site, "mia") if n["link"] == f"/r/lead/{lead}"]
    assert told["title"] == "Archive could not run: Hill clinic" and "score of 60" in told["body"]


def test_pl08_a_bulk_background_action_queues_each_record(site: Site) -> None:
    leads = [_converted_lead(site, name) for name in ("East clinic", "West clinic")]
    r = site("mia").post("/api/v1/records/lead/actions/archive/bulk", json={"ids": leads})
    assert r.status_code == 200, r.text
    assert (r.json()["done"], r.json()["queued"], r.json()["refused"]) == (0, 2, 0)
    assert {x["status"] for x in r.json()["results"]} == {"queued"}
    site.app.jobs.run_pending()
    assert sorted(_logs(site, "archive")) == ["archived East clinic", "archived West clinic"]
