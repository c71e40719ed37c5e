"""The shipped patient CRM pack (blueprints/patient_crm) behind a live server with the web UI, for PC tests.

API (kept small on purpose; other PC test modules import it):

    from tests.support.patient_crm import Crm, crm_fixture

    crm = crm_fixture()                                 # module-scoped, sqlite + postgresql
    crm = crm_fixture(demo_entities=("referrer",))      # also load these entities' demo files

    def test_pc01_something(crm: Crm) -> None:
        officer = crm.client("pc.officer1")                   # signed-in httpx client (demo user)
        nurse = crm.create_user("nurse1", ["nurse"], "WARD-ORTHO")   # a new user, same password
        crm.client("nurse1").get("/api/v1/records/patient")
        crm.create("patient", {...})                          # as the platform (admin), returns the record
        crm.every("patient", ward="orthopedics")              # all records (admin view)
        field_errors(response)                                # {field: message} of a 422
        ok(response, 201)                                     # the JSON body, asserting the status

Only the organisation demo file is loaded by default (departments and demo users of every role), so a
module neither waits for nor depends on the big demo files. ``crm.department(code)`` gives a department id;
``crm.ward_department(code, name)`` adds a ward (clinical) department under the hospital when missing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import ui.app
from runtime.api import create_app
from runtime.clock import FixedClock
from runtime.config import Settings
from runtime.demo import demo_logins, load_demo
from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context, ListQuery
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.support.databases import fresh_database, require_backend
from tests.support.server import live_server

PACK = Path(__file__).resolve().parents[2] / "blueprints" / "patient_crm"
ADMIN = Context(channel="system", lang="en", is_admin=True)
NOW = datetime(2026, 11, 23, 9, 30, 0)
"""The fixed test clock (tests/conftest.py uses the same instant)."""


@dataclass
class Crm:
    """The deployed pack, its live server and signed-in clients."""

    app: Tessera
    url: str
    password: str
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    @property
    def tessera(self) -> Tessera:
        return self.app

    def client(self, username: str, lang: str = "zh") -> httpx.Client:
        """An HTTP client signed in as the user (API session with the CSRF header; the UI pages accept it)."""
        key = f"{username}/{lang}"
        if key not in self.clients:
            client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": lang})
            r = client.post("/api/v1/auth/login", json={"username": username, "password": self.password})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            self.clients[key] = client
        return self.clients[key]

    def uid(self, username: str) -> int:
        user = self.app.users.by_username(username)
        assert user is not None, username
        return user.id

    def department(self, code: str) -> int:
        with self.app.db.read() as conn:
            found = conn.execute(sa.select(pt.departments.c.id).where(pt.departments.c.code == code)).scalar()
        assert found is not None, f"no department {code}"
        return int(found)

    def ward_department(self, code: str, name: str, parent: str = "HOSP") -> int:
        """A clinical (ward) department, created under ``parent`` the first time it is asked for."""
        with self.app.db.read() as conn:
            found = conn.execute(sa.select(pt.departments.c.id).where(pt.departments.c.code == code)).scalar()
        if found is not None:
            return int(found)
        made = self._admin().create_department({"name": name, "code": code, "parent_id": self.department(parent)})
        return int(made["id"])

    def create_user(self, username: str, roles: list[str], department: str, display_name: str = "") -> int:
        """A user with these roles in the department (by code), signing in with the demo password.
        Idempotent: an existing user is returned as it is."""
        existing = self.app.users.by_username(username)
        if existing is not None:
            return existing.id
        made = self._admin().create_user(
            {
                "username": username,
                "display_name": display_name or username,
                "department_id": self.department(department),
                "roles": roles,
                "language": "zh",
            }
        )
        with self.app.db.write() as conn:  # the demo users' hash: same password, no slow re-hashing
            demo_hash = conn.execute(
                sa.select(pt.users.c.password_hash).where(pt.users.c.username == "pc.president")
            ).scalar_one()
            conn.execute(pt.users.update().where(pt.users.c.id == made["id"]).values(password_hash=demo_hash))
        return int(made["id"])

    def create(self, entity: str, values: dict[str, Any], ctx: Context = ADMIN) -> dict[str, Any]:
        """A record written through the records service (as the platform unless ``ctx`` says otherwise)."""
        return self.app.records.create(entity, values, ctx)

    def get(self, entity: str, record_id: int) -> dict[str, Any]:
        return self.app.records.get(entity, record_id, ADMIN)

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

    def _admin(self) -> PeopleAdmin:
        return PeopleAdmin(self.app.db, self.app.registry, self.app.permissions, clock=self.app.clock)


def field_errors(r: httpx.Response) -> dict[str, str]:
    """The field errors of a refused write (422): field -> its messages joined by '; ', in the client's language."""
    assert r.status_code == 422, r.text
    out: dict[str, str] = {}
    for e in r.json()["error"]["errors"]:
        out[e["field"]] = f"{out[e['field']]}; {e['message']}" if e["field"] in out else e["message"]
    return out


def ok(r: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a successful response (asserting the status, with the body in the failure)."""
    assert r.status_code == status, r.text
    return r.json()


def crm_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, demo_entities: tuple[str, ...] = ()
) -> Iterator[Crm]:
    """Body of a module-scoped fixture parametrised by backend: the pack, the demo organisation, the demo
    records of ``demo_entities`` (in the pack's file order), a live server with the UI."""
    backend = request.param
    require_backend(backend)
    tmp = tmp_path_factory.mktemp(f"patient-crm-{backend}")
    with fresh_database(backend, tmp) as url:
        settings = Settings(database_url=url, data_dir=tmp / "data", secret_key="test-secret-key-" + "x" * 32)
        app = Tessera(settings, clock=FixedClock(NOW))
        app.deploy(app.load_pack(PACK))
        pack = app.registry.packs["patient_crm"]
        wanted = [d for d in pack.demo if "entity" not in d or d["entity"] in demo_entities]
        load_demo(app, dataclasses.replace(pack, demo=wanted))
        app.jobs.run_pending()
        password, _ = demo_logins(app)
        assert password
        with live_server(create_app(app, extensions=[ui.app.install])) as server:
            world = Crm(app, server, password)
            yield world
            for client in world.clients.values():
                client.close()
        app.close()


def crm_fixture(demo_entities: tuple[str, ...] = (), name: str = "crm") -> Callable[..., Iterator[Crm]]:
    """A module-scoped fixture (sqlite and postgresql) named ``name``; assign it to that name in the module:
    ``crm = crm_fixture()``."""

    @pytest.fixture(scope="module", params=["sqlite", "postgresql"], name=name)
    def _crm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crm]:
        yield from crm_world(request, tmp_path_factory, demo_entities)

    return _crm
