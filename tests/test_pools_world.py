"""Shared setup of the scores, pools and assignment tests (no tests here): the pools_pack application with a
manager and three liaisons in one department, records written through the records service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx

from runtime.identity.passwords import hash_password
from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt

PASSWORD = "Pools-Test-pass-2026"
ADMIN_PASSWORD = "Adm1n-pass-for-tests"
SYSTEM = Context(channel="system", lang="en", is_admin=True)


@cache
def _hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class World:
    app: Tessera
    users: dict[str, int] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)

    def ctx(self, who: str, lang: str = "en") -> Context:
        user = self.app.users.get(self.users[who])
        assert user is not None
        return Context(
            user_id=user.id, channel="api", lang=lang, is_admin=user.is_admin, department_id=user.department_id
        )

    def create(self, entity: str, values: dict[str, Any]) -> dict[str, Any]:
        return self.app.records.create(entity, values, SYSTEM)

    def get(self, entity: str, rid: int) -> dict[str, Any]:
        return self.app.records.get(entity, rid, SYSTEM)

    def update(self, entity: str, rid: int, values: dict[str, Any]) -> dict[str, Any]:
        return self.app.records.update(entity, rid, values, SYSTEM, expected_version=None)

    def client(self, base_url: str, who: str) -> httpx.Client:
        client = httpx.Client(base_url=base_url, timeout=30, headers={"Accept-Language": "en"})
        password = ADMIN_PASSWORD if who == "admin" else PASSWORD
        r = client.post("/api/v1/auth/login", json={"username": who, "password": password})
        assert r.status_code == 200, r.text
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return client


def build_world(make_tessera: Callable[..., Tessera]) -> World:
    app = make_tessera("pools_pack")
    app.users.create("admin", "Admin", ADMIN_PASSWORD, is_admin=True)
    w = World(app)
    w.users["admin"] = app.users.by_username("admin").id  # type: ignore[union-attr]
    admin = PeopleAdmin(app.db, app.registry, app.permissions, clock=app.clock)
    w.departments["east"] = admin.create_department({"name": "East", "code": "E"})["id"]
    w.departments["west"] = admin.create_department({"name": "West", "code": "W"})["id"]
    people = [
        ("mgr", ["manager"], "east", "经理"),
        ("li", ["liaison"], "east", "李联络"),
        ("wang", ["liaison"], "east", "王联络"),
        ("zhao", ["liaison"], "east", "赵联络"),
        ("west1", [], "west", "西区"),
    ]
    for username, roles, dept, name in people:
        user = admin.create_user(
            {"username": username, "display_name": name, "department_id": w.departments[dept], "roles": roles}
        )
        w.users[username] = user["id"]
    with app.db.write() as conn:
        conn.execute(
            pt.users.update()
            .where(pt.users.c.id.in_([w.users[p[0]] for p in people]))
            .values(password_hash=_hash(), language="en")
        )
    return w
