"""Fresh databases for tests: a SQLite file per test, or a PostgreSQL database created and dropped per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("TESSERA_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def pg_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


def require_backend(backend: str) -> None:
    """Skip a PostgreSQL-parametrised test on a developer machine without the server. CI cannot skip this way:
    tests/conftest.py stops the whole run when PostgreSQL is unreachable under CI."""
    if backend == "postgresql" and not pg_available():
        pytest.skip("PostgreSQL server not reachable on this machine (CI requires it)")


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """Yield a URL of an empty database of the given backend; dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'tessera.sqlite3'}"
        return
    name = f"tessera_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
