"""PostgreSQL connection pool: a pooled connection the server dropped while it sat idle is replaced on
checkout, so the request that takes it does not fail (connections in use a moment ago are not pinged:
see runtime/storage/database.py and the workflow benchmark)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from runtime.storage import database
from runtime.storage.database import Database


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pl22_a_connection_dropped_by_the_server_while_idle_is_replaced_unnoticed(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, admin = Database(database_url), Database(database_url)
    try:
        with db.read() as conn:
            first_pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        with admin.write() as conn:  # the server (a restart, an idle timeout) ends that session
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid}).scalar_one()
        monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)  # the pooled connection counts as idle now
        with db.read() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        assert pid != first_pid
    finally:
        db.dispose()
        admin.dispose()
