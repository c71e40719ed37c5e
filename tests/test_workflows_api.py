"""PL-14 / PL-15 / PC-15 / RN-10 end to end over real HTTP: start, inbox, claim, complete, timers, messages,
migration, and the error answers (403/404/409/422, never a 500)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache

import httpx
import pytest

from runtime.api import create_app
from runtime.clock import FixedClock
from runtime.identity.passwords import hash_password
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.conftest import ADMIN_PASSWORD
from tests.support.server import live_server
from tests.test_workflows_host import APPROVAL, PACK, Org, build_org

PASSWORD = "Workflow-test-pass-2026"


@cache
def _hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Site:
    org: Org
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

    def inbox(self, who: str, **params: str) -> list[dict]:
        r = self(who).get("/api/v1/tasks", params=params)
        assert r.status_code == 200, r.text
        return r.json()["items"]


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    org = build_org(make_tessera(PACK))
    with org.tessera.db.write() as conn:
        conn.execute(pt.users.update().where(pt.users.c.username != "admin").values(password_hash=_hash()))
    with live_server(create_app(org.tessera, extensions=[])) as url:
        s = Site(org, url)
        yield s
        for client in s.clients.values():
            client.close()


def test_pl14_two_level_approval_over_http(site: Site) -> None:
    r = site("req").post(
        "/api/v1/workflows/approval/start",
        json={"data": {"amount": 20000, "type": "equipment", "title": "MRI", "signoff": "none"}},
    )
    assert r.status_code == 201, r.text
    instance = r.json()["id"]
    [task] = site.inbox("mgr")
    assert task["process_id"] == "approval" and task["due_at"] == "2026-11-25T09:30:00" and task["overdue"] is False
    detail = site("mgr").get(f"/api/v1/tasks/{task['id']}").json()
    assert detail["form_id"] == "approval_decision" and detail["data"]["title"] == "MRI"
    r = site("mgr").post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve", "comment": "ok"})
    assert r.status_code == 200, r.text
    [pooled] = site.inbox("dir")
    r = site("dir").post(f"/api/v1/tasks/{pooled['id']}/complete", json={"outcome": "approve"})
    assert r.status_code == 403 and "claim it first" in r.json()["error"]["message"]
    assert site("dir").post(f"/api/v1/tasks/{pooled['id']}/claim").json()["status"] == "claimed"
    assert site("dir2").post(f"/api/v1/tasks/{pooled['id']}/claim").status_code == 409
    r = site("dir").post(f"/api/v1/tasks/{pooled['id']}/complete", json={"outcome": "approve"})
    assert r.json()["status"] == "completed"
    r = site("dir").post(f"/api/v1/tasks/{pooled['id']}/complete", json={"outcome": "approve"})
    assert r.status_code == 409
    view = site("req").get(f"/api/v1/workflows/instances/{instance}").json()
    assert view["status"] == "completed" and view["current"] == []
    assert [e["kind"] for e in view["history"]][-1] == "completed"
    diagram = site("req").get(f"/api/v1/workflows/instances/{instance}/diagram").json()
    assert "bpmndi:BPMNDiagram" in diagram["bpmn"] and "director_review" in diagram["completed"]


def test_pl14_rejected_approval_returns_to_the_requester_over_http(site: Site) -> None:
    site("req").post(
        "/api/v1/workflows/approval/start",
        json={"data": {"amount": 5, "type": "x", "title": "Desk", "signoff": "none"}},
    )
    [task] = site.inbox("mgr")
    site("mgr").post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "reject", "comment": "Too pricey"})
    [revise] = site.inbox("req")
    assert site("req").get(f"/api/v1/tasks/{revise['id']}").json()["data"]["_outcome_comment"] == "Too pricey"


def test_pl14_errors_are_403_404_409_422_never_500(site: Site) -> None:
    r = site("req").post(
        "/api/v1/workflows/approval/start", json={"data": {"amount": 5, "type": "x", "title": "t", "signoff": "none"}}
    )
    instance = r.json()["id"]
    [task] = site.inbox("mgr")
    assert site("other").post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve"}).status_code == 403
    assert site("other").get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert site("other").get(f"/api/v1/workflows/instances/{instance}").status_code == 404
    bad = site("mgr").post(f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "perhaps"})
    assert bad.status_code == 422 and bad.json()["error"]["errors"][0]["field"] == "outcome"
    bad = site("mgr").post(
        f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve", "data": {"approved_amount": "many"}}
    )
    assert bad.status_code == 422 and bad.json()["error"]["errors"][0]["field"] == "approved_amount"
    typename = site("mgr").post(
        f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "approve", "data": {"typename": "x"}}
    )
    assert typename.status_code in (400, 422)
    assert site("mgr").get("/api/v1/tasks/abc").status_code == 404
    assert site("mgr").get("/api/v1/tasks/999999").status_code == 404
    assert site("req").post("/api/v1/workflows/nope/start", json={}).status_code == 404
    assert site("req").post("/api/v1/workflows/approval/start", json={"data": [1]}).status_code == 400
    assert site("mgr").post(f"/api/v1/workflows/instances/{instance}/withdraw").status_code == 403
    assert site("req").get(f"/api/v1/workflows/instances/{instance}/migration-preview?version=1").status_code == 403
    assert site("req").post(f"/api/v1/workflows/instances/{instance}/withdraw").json()["status"] == "cancelled"
    assert site("req").post(f"/api/v1/workflows/instances/{instance}/withdraw").status_code == 409


def test_pc15_mdt_late_specialist_overdue_in_the_inbox_and_escalated(site: Site, clock: FixedClock) -> None:
    users = site.org.users
    case = site("admin").post("/api/v1/records/mdt_case", json={"patient": "Wang Wu"}).json()
    r = site("req").post(
        "/api/v1/workflows/mdt_consultation/start",
        json={
            "data": {
                "patient": "Wang Wu",
                "specialists": [users["s1"], users["s2"], users["s3"]],
                "coordinator": users["coord"],
            },
            "record": {"entity": "mdt_case", "id": case["id"]},
        },
    )
    assert r.status_code == 201, r.text
    for who in ("s1", "s2"):
        [task] = site.inbox(who)
        site(who).post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"opinion": f"{who} agrees"}})
    [late] = site.inbox("s3")
    missing = site("s3").post(f"/api/v1/tasks/{late['id']}/complete", json={"data": {}})
    assert missing.status_code == 422 and missing.json()["error"]["errors"][0]["field"] == "opinion"
    clock.advance(hours=25)
    assert site.org.wf.tick(clock.now()) == 1
    assert [t["id"] for t in site.inbox("s3", overdue="true")] == [late["id"]]
    assert site.inbox("s1", overdue="true") == []
    assert [t["id"] for t in site.inbox("s3", type="mdt_consultation")] == [late["id"]]
    assert site.inbox("s3", process="approval") == []
    assert site("s3").get("/api/v1/tasks", params={"overdue": "soon"}).status_code == 400
    assert len(site.org.notifications("coord")) == 1 and len(site.org.notifications("s3")) == 1
    site("s3").post(f"/api/v1/tasks/{late['id']}/complete", json={"data": {"opinion": "late but here"}})
    [conclusion] = site.inbox("coord")
    site("coord").post(f"/api/v1/tasks/{conclusion['id']}/complete", json={"data": {"conclusion": "Operate"}})
    listed = (
        site("req")
        .get("/api/v1/workflows/instances", params={"entity": "mdt_case", "record_id": case["id"]})
        .json()["items"]
    )
    assert [i["status"] for i in listed] == ["completed"]
    assert site("admin").get(f"/api/v1/records/mdt_case/{case['id']}").json()["conclusion"] == "Operate"


def test_rn10_early_message_is_404_and_an_admin_previews_and_migrates_versions(site: Site) -> None:
    contract = site("admin").post("/api/v1/records/contract", json={"name": "Partner A"}).json()
    r = site("req").post(
        "/api/v1/workflows/contract_signing/start", json={"record": {"entity": "contract", "id": contract["id"]}}
    )
    instance = r.json()["id"]
    xml = APPROVAL.read_text("utf-8")
    site.org.wf.register_bpmn(xml.replace('name="Manager review"', 'name="Review by the manager"'), "v2.bpmn")
    r = site("admin").post(
        "/api/v1/workflows/messages",
        json={"name": "contract_countersigned", "correlation_key": f"contract:{contract['id']}"},
    )
    assert r.status_code == 404  # not waiting for it yet: still at the draft step
    refused = site("req").post(
        "/api/v1/workflows/messages",
        json={"name": "contract_countersigned", "correlation_key": f"contract:{contract['id']}"},
    )
    assert refused.status_code == 404  # req may start contract signing, so she may message it: nothing waits yet
    refused = site("other").post(
        "/api/v1/workflows/messages", json={"name": "referral_received", "correlation_key": "HIS-1"}
    )
    assert refused.status_code in (403, 404)  # no listening process deployed here: never 500
    started = (
        site("req")
        .post(
            "/api/v1/workflows/approval/start",
            json={"data": {"amount": 1, "type": "x", "title": "t", "signoff": "none"}},
        )
        .json()
    )
    assert started["spec_version"] == 2  # the newest version for new instances
    preview = site("admin").get(f"/api/v1/workflows/instances/{instance}/migration-preview", params={"version": 1})
    assert preview.status_code == 200 and preview.json()["possible"] is True
    assert site("admin").post(f"/api/v1/workflows/instances/{instance}/migrate", json={"version": 9}).status_code == 404
