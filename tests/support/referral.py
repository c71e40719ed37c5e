"""The shipped referral-network pack behind a live server (with the web UI), for the RN tests of one domain.

Only the demo files a test module needs are loaded (the organisation always), so a domain's tests neither
wait for nor depend on the other domains' big demo files; the rules of the whole pack still run.
Clients sign in as demo users (rn.liaison1, rn.manager1, ...) with the demo password, over the API session.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import ui.app
from runtime.api import create_app
from runtime.clock import FixedClock
from runtime.config import Settings
from runtime.demo import demo_logins, load_demo
from runtime.records import Context, ListQuery
from runtime.services import Tessera
from tests.support.databases import fresh_database, require_backend
from tests.support.server import live_server

PACK = Path(__file__).resolve().parents[2] / "blueprints" / "referral_network"
ADMIN = Context(channel="system", lang="en", is_admin=True)


@dataclass
class Referral:
    app: Tessera
    url: str
    password: str
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, username: str) -> httpx.Client:
        """An HTTP client signed in as the demo user (API session; the UI pages accept it too)."""
        if username not in self.clients:
            client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "zh"})
            r = client.post("/api/v1/auth/login", json={"username": username, "password": self.password})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            self.clients[username] = client
        return self.clients[username]

    def uid(self, username: str) -> int:
        user = self.app.users.by_username(username)
        assert user is not None, username
        return user.id

    def every(self, entity: str, **equal: Any) -> list[dict[str, Any]]:
        """All records of an entity as the platform sees them (expected answers), optionally field == value."""
        items: list[dict[str, Any]] = []
        query = ListQuery(limit=200, count="none")
        while True:
            page = self.app.records.list(entity, query, ADMIN)
            items += page.items
            if not page.next_cursor:
                return [r for r in items if all(r.get(k) == v for k, v in equal.items())]
            query = ListQuery(limit=200, count="none", cursor=page.next_cursor)

    def hospital(self, name: str) -> dict[str, Any]:
        found = self.every("partner_hospital", name=name)
        assert found, name
        return found[0]

    def notifications(self, username: str) -> list[dict[str, Any]]:
        r = self.client(username).get("/api/v1/notifications", params={"limit": 100})
        assert r.status_code == 200, r.text
        return r.json()["items"]


def referral_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, entities: tuple[str, ...]
) -> Iterator[Referral]:
    """Body of a module-scoped fixture parametrised by backend: the pack, the demo organisation and the demo
    records of ``entities`` (in the pack's file order), a live server with the UI."""
    backend = request.param
    require_backend(backend)
    tmp = tmp_path_factory.mktemp(f"referral-{backend}")
    with fresh_database(backend, tmp) as url:
        settings = Settings(database_url=url, data_dir=tmp / "data", secret_key="test-secret-key-" + "x" * 32)
        app = Tessera(settings, clock=FixedClock(datetime(2026, 11, 23, 9, 30, 0)))
        app.deploy(app.load_pack(PACK))
        pack = app.registry.packs["referral_network"]
        wanted = [d for d in pack.demo if "entity" not in d or d["entity"] in entities]
        load_demo(app, dataclasses.replace(pack, demo=wanted))
        app.jobs.run_pending()
        password, _ = demo_logins(app)
        assert password
        with live_server(create_app(app, extensions=[ui.app.install])) as server:
            world = Referral(app, server, password)
            yield world
            for client in world.clients.values():
                client.close()
        app.close()
