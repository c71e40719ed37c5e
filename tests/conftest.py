"""Fixtures: every storage test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from runtime.clock import FixedClock
from runtime.config import Settings
from runtime.services import Tessera
from tests.support.databases import fresh_database, pg_available, require_backend
from tests.support.server import live_server

PACKS = Path(__file__).parent / "packs"
REPO = Path(__file__).parent.parent
ADMIN_PASSWORD = "Adm1n-pass-for-tests"
_PG = pg_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _PG:
        return
    import os

    if os.environ.get("CI"):
        raise pytest.UsageError("PostgreSQL is not reachable; CI must test both databases")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    require_backend(request.param)
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 9, 30, 0))


@pytest.fixture
def make_tessera(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Callable[..., Tessera]]:
    made: list[Tessera] = []

    def make(*packs: str) -> Tessera:
        settings = Settings(
            database_url=database_url, data_dir=tmp_path / "data", secret_key="test-secret-key-" + "x" * 32
        )
        app = Tessera(settings, clock=clock)
        made.append(app)
        for name in packs:
            path = Path(name) if Path(name).is_absolute() else PACKS / name
            app.deploy(app.load_pack(path))
        return app

    yield make
    for app in made:
        app.close()


@pytest.fixture
def tessera(make_tessera: Callable[..., Tessera]) -> Tessera:
    app = make_tessera("all_fields")
    app.users.create("admin", "Admin", ADMIN_PASSWORD, is_admin=True)
    return app


@pytest.fixture
def server(tessera: Tessera) -> Iterator[str]:
    from runtime.api import create_app

    with live_server(create_app(tessera, extensions=[])) as url:
        yield url


@pytest.fixture
def api(server: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in as the administrator."""
    with httpx.Client(base_url=server, timeout=30) as client:
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]  # state-changing session requests need it
        yield client
