"""PostgreSQL connection pool: a pooled connection the server dropped while it sat idle is replaced on
checkout, so the request that takes it does not fail (connections in use a moment ago are not pinged:
see runtime/storage/database.py and the workflow benchmark)."""

from __future__ import annotations

from collections.abc import Iterator

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


# Transactions open with their first statement (runtime/storage/lazy_begin.py): one round trip less per
# transaction, the same all-or-nothing behaviour.
@pytest.fixture
def pg(database_url: str) -> Iterator[tuple[Database, Database]]:
    db, other = Database(database_url), Database(database_url)
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE t_lazy (id int PRIMARY KEY, note text)")
    try:
        yield db, other
    finally:
        db.dispose()
        other.dispose()


def _ids(db: Database) -> list[int]:
    with db.read() as conn:
        return list(conn.exec_driver_sql("SELECT id FROM t_lazy ORDER BY id").scalars())


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pl22_begin_rides_on_the_first_statement_and_the_transaction_stays_whole(pg) -> None:
    db, other = pg
    with db.write() as conn:
        result = conn.exec_driver_sql("INSERT INTO t_lazy VALUES (1, 'a') RETURNING id")
        assert result.cursor.query.startswith(b"BEGIN;INSERT")  # no separate BEGIN round trip
        assert result.scalar() == 1
        conn.exec_driver_sql("INSERT INTO t_lazy VALUES (2, 'b')")
        assert _ids(other) == []  # another session does not see the uncommitted rows
    assert _ids(other) == [1, 2]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pl22_a_failing_statement_or_error_rolls_back_everything_before_it(pg) -> None:
    db, other = pg
    with pytest.raises(sa.exc.IntegrityError), db.write() as conn:
        conn.exec_driver_sql("INSERT INTO t_lazy VALUES (1, 'a')")
        conn.exec_driver_sql("INSERT INTO t_lazy VALUES (1, 'duplicate')")
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.exec_driver_sql("INSERT INTO t_lazy VALUES (2, 'b')")
        raise RuntimeError("the step failed after writing")
    assert _ids(other) == []
    with db.write() as conn:  # the pooled connection is clean again (no transaction left open)
        cursor = conn.connection.driver_connection.cursor()  # the DBAPI cursor, as runtime/records/fetch.py uses
        cursor.execute("INSERT INTO t_lazy VALUES (3, 'c')")
        assert conn.connection.driver_connection.get_transaction_status() == 2  # in a transaction
    assert _ids(other) == [3]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pl22_isolation_levels_and_autocommit_keep_their_meaning(pg) -> None:
    db, other = pg
    with db.engine.connect().execution_options(isolation_level="SERIALIZABLE") as conn:
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "serializable"
        conn.rollback()
    with db.read() as conn:  # back to the default on the next checkout
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("INSERT INTO t_lazy VALUES (4, 'd')")
        assert _ids(other) == [4]  # committed at once, no transaction around it
        conn.exec_driver_sql("VACUUM t_lazy")  # refused inside a transaction block: none was opened
