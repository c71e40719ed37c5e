"""People fixtures for permission tests: the scoped_crm pack, a department tree, users with roles,
their hospitals, and a live HTTP server with signed-in clients.

    First Hospital (org)       outreach
                               |- team_a      manager mgr, liaison l1, clerk (staff), nobody (no role)
                               |  `- team_a1  liaison L3
                               `- team_b      liaison L2
    Second Hospital (org)      branch         liaison L4

Use in a test module:  from tests.support.people import people_fixture, scoped_fixture  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
import pytest

from runtime.identity.passwords import hash_password
from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.support.server import live_server

PASSWORD = "Scoped-Test-pass-2026"
ADMIN_PASSWORD = "Adm1n-pass-for-tests"
PHONES = {"l1": "13812345678", "l2": "13987654321", "l3": "13711112222", "mgr": "13600001111", "l4": "13500002222"}
ID_NUMBERS = {"l1": "11010519491231002X", "l2": "110105198001011238"}


@dataclass
class Scoped:
    """The scoped_crm application with its people and records (no server)."""

    tessera: Tessera
    admin: PeopleAdmin
    departments: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    hospitals: dict[str, int] = field(default_factory=dict)
    """hospital of each user key ('l1' -> the hospital L1 created)."""

    def ctx(self, who: str, **extra: Any) -> Context:
        """The records context the API would build for this user."""
        user = self.tessera.users.get(self.users[who])
        assert user is not None
        return Context(
            user_id=user.id,
            channel="api",
            lang="en",
            is_admin=user.is_admin,
            department_id=user.department_id,
            **extra,
        )


@dataclass
class People(Scoped):
    url: str = ""
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, who: str) -> httpx.Client:
        """An HTTP client signed in as this user (with the CSRF header for state-changing requests)."""
        client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "en"})
        password = ADMIN_PASSWORD if who == "admin" else PASSWORD
        r = client.post("/api/v1/auth/login", json={"username": who, "password": password})
        assert r.status_code == 200, r.text
        token = r.json().get("csrf_token")
        if token:
            client.headers["X-CSRF-Token"] = token
        self._clients.append(client)
        return client


def build_scoped(tessera: Tessera) -> Scoped:
    admin = PeopleAdmin(tessera.db, tessera.registry, tessera.permissions, clock=tessera.clock)
    s = Scoped(tessera, admin)
    tessera.users.create("admin", "Admin", ADMIN_PASSWORD, is_admin=True)
    s.users["admin"] = tessera.users.by_username("admin").id  # type: ignore[union-attr]
    dept = s.departments
    dept["outreach"] = admin.create_department({"name": "Outreach", "code": "OUT", "organisation": "First Hospital"})[
        "id"
    ]
    dept["team_a"] = admin.create_department({"name": "Team A", "code": "TA", "parent_id": dept["outreach"]})["id"]
    dept["team_a1"] = admin.create_department({"name": "Team A-1", "code": "TA1", "parent_id": dept["team_a"]})["id"]
    dept["team_b"] = admin.create_department({"name": "Team B", "code": "TB", "parent_id": dept["outreach"]})["id"]
    dept["branch"] = admin.create_department({"name": "Branch", "code": "BR", "organisation": "Second Hospital"})["id"]
    people = [
        ("boss", ["administrator"], "outreach"),
        ("mgr", ["manager"], "team_a"),
        ("l1", ["liaison"], "team_a"),
        ("l3", ["liaison"], "team_a1"),
        ("l2", ["liaison"], "team_b"),
        ("l4", ["liaison"], "branch"),
        ("nobody", [], "team_a"),
        ("clerk", ["staff"], "team_a"),
    ]
    for username, roles, department in people:
        user = admin.create_user(
            {
                "username": username,
                "display_name": username.upper(),
                "department_id": dept[department],
                "roles": roles,
                "language": "en",
            }
        )
        s.users[username] = user["id"]
    with tessera.db.write() as conn:  # one argon2 hash for all (hashing is slow on purpose)
        conn.execute(
            pt.users.update().where(pt.users.c.id.in_(list(s.users.values())[1:])).values(password_hash=_hash())
        )
    for who in ("l1", "l2", "l3", "mgr", "l4"):
        record = {
            "name": f"Hospital of {who.upper()}",
            "city": "Hangzhou",
            "contact_name": f"Contact {who}",
            "phone": PHONES[who],
            "email": f"{who}.contact@example.com",
            "internal_rating": 7,
            "budget": 1000,
        }
        if who in ID_NUMBERS:
            record["contact_id_number"] = ID_NUMBERS[who]
        # created as the platform on the user's behalf: owner and department are the user's
        created = tessera.records.create("hospital", record, Context(channel="system", lang="en", is_admin=True))
        user = tessera.users.get(s.users[who])
        assert user is not None
        _assign(tessera, created["id"], user.id, user.department_id)
        s.hospitals[who] = created["id"]
    return s


@cache
def _hash() -> str:
    return hash_password(PASSWORD)


def _assign(tessera: Tessera, record_id: int, owner_id: int, department_id: int | None) -> None:
    """Set owner and department of a hospital directly (the platform's assignment, like a manager would)."""
    table = tessera.registry.tables["hospital"].main
    with tessera.db.write() as conn:
        q = table.update().where(table.c.id == record_id)
        conn.execute(q.values(owner_id=owner_id, department_id=department_id))


@pytest.fixture(name="scoped")
def scoped_fixture(make_tessera: Callable[..., Tessera]) -> Scoped:
    """The scoped_crm pack with the people above, on SQLite and PostgreSQL (no server)."""
    return build_scoped(make_tessera("scoped_crm"))


@pytest.fixture(name="people")
def people_fixture(scoped: Scoped) -> Iterator[People]:
    """`scoped` plus a live HTTP server; `people.client('l1')` signs in as L1."""
    from runtime.api import create_app, routes_people

    app = create_app(scoped.tessera, extensions=[])
    if not any(getattr(r, "path", "") == "/api/v1/admin/users" for r in app.routes):
        app.include_router(routes_people.router)  # until app.py includes it
    result = People(**{k: getattr(scoped, k) for k in ("tessera", "admin", "departments", "users", "hospitals")})
    with live_server(app) as url:
        result.url = url
        try:
            yield result
        finally:
            for client in result._clients:
                client.close()
