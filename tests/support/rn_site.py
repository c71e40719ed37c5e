"""The referral pack deployed on a live server with a small real organisation, for the RN tests of projects,
contracts and business volume (tests/test_rn_projects.py, test_rn_contracts.py, test_rn_volume.py).

    医联体办公室 RN        outreach team RN-T1: manager "mgr" (outreach_manager + manager), liaison "li"
                           liaison "li2" (another team RN-T2, to show scopes)
    法务部 LEGAL           "legal" (legal)
    administrator "admin"

Every person signs in over HTTP with a password; `site(who)` is that person's client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from runtime.api import create_app
from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context
from runtime.services import Tessera
from tests.conftest import ADMIN_PASSWORD
from tests.support.server import live_server

PACK = Path(__file__).resolve().parents[2] / "blueprints" / "referral_network"
PASSWORD = "Referral-test-pass-2026"
SYSTEM = Context(channel="system", lang="zh", is_admin=True)
PEOPLE = (
    ("mgr", "周经理", "RN-T1", ["outreach_manager", "manager"]),
    ("li", "林联络", "RN-T1", ["liaison"]),
    ("li2", "吴联络", "RN-T2", ["liaison"]),
    ("legal", "郑法务", "LEGAL", ["legal"]),
)


@dataclass
class RnSite:
    app: Tessera
    url: str
    users: dict[str, int] = field(default_factory=dict)
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def __call__(self, who: str) -> httpx.Client:
        if who not in self.clients:
            client = httpx.Client(base_url=self.url, timeout=60, headers={"Accept-Language": "zh"})
            password = ADMIN_PASSWORD if who == "admin" else PASSWORD
            r = client.post("/api/v1/auth/login", json={"username": who, "password": password})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            self.clients[who] = client
        return self.clients[who]

    def ok(self, response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def hospital(self, name: str, liaison: str = "li", **values: Any) -> int:
        data = {"name": name, "level": "2A", "type": "general", "liaison": self.users[liaison], **values}
        if data.get("status") == "formal":
            data.setdefault("cooperation_type", ["two_way_referral"])
            data.setdefault("signed_date", "2024-03-01")
        return self.ok(self("admin").post("/api/v1/records/partner_hospital", json=data), 201)["id"]

    def notifications(self, who: str) -> list[dict[str, Any]]:
        return self.ok(self(who).get("/api/v1/notifications", params={"limit": 100}))["items"]

    def inbox(self, who: str) -> list[dict[str, Any]]:
        return self.ok(self(who).get("/api/v1/tasks"))["items"]


def rn_site(make_tessera: Callable[..., Tessera]) -> Iterator[RnSite]:
    """Deploy the pack (no demo data), create the people, serve it; close the clients afterwards."""
    app = make_tessera(str(PACK))
    app.users.create("admin", "Admin", ADMIN_PASSWORD, is_admin=True)
    admin = PeopleAdmin(app.db, app.registry, app.permissions, clock=app.clock)
    rn = admin.create_department({"name": "医联体办公室", "code": "RN"})["id"]
    depts = {
        "RN-T1": admin.create_department({"name": "拓展一组", "code": "RN-T1", "parent_id": rn})["id"],
        "RN-T2": admin.create_department({"name": "拓展二组", "code": "RN-T2", "parent_id": rn})["id"],
        "LEGAL": admin.create_department({"name": "法务部", "code": "LEGAL"})["id"],
    }
    site = RnSite(app, "")
    for username, name, dept, roles in PEOPLE:
        values = {"username": username, "display_name": name, "department_id": depts[dept], "roles": roles}
        site.users[username] = admin.create_user({**values, "password": PASSWORD, "language": "zh"})["id"]
    with live_server(create_app(app)) as url:  # with the web UI (record pages, import page)
        site.url = url
        yield site
        for client in site.clients.values():
            client.close()
