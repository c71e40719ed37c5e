"""PostgreSQL: a workflow step's statements are prepared once per server session and then run by name
(runtime/storage/prepared.py), with the same results, transactions and errors as the text they replace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa

from runtime.storage import database, prepared
from runtime.storage.database import Database
from runtime.workflows.store import driver_execute

INSERT = "INSERT INTO t_prep (id, note, at) VALUES (%(id)s, %(note)s, %(at)s) RETURNING id, note"
AT = datetime(2026, 11, 24, 9, 30)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE t_prep (id int PRIMARY KEY, note text, at timestamp)")
    try:
        yield db
    finally:
        db.dispose()


def _session(conn: sa.Connection) -> tuple[int, list[str]]:
    """The server session's pid and the statements it has prepared."""
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    names = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements ORDER BY name").scalars().all()
    return pid, list(names)


def _rows(db: Database) -> list[tuple]:
    with db.read() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT id, note, at FROM t_prep ORDER BY id")]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pl22_a_step_statement_is_prepared_once_per_session_and_then_run_by_name(db: Database) -> None:
    sent: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    with db.write() as conn:
        first, _ = driver_execute(conn, [INSERT], {"id": 1, "note": "it's 100%", "at": AT})
        second, _ = driver_execute(conn, [INSERT], {"id": 2, "note": None, "at": None})
        pid, statements = _session(conn)
    assert first == [(1, "it's 100%")] and second == [(2, None)]
    assert sent[:2] == ["EXECUTE tessera_p1(%(id)s, %(note)s, %(at)s)"] * 2  # listeners see what was sent
    assert len(statements) == 1 and "VALUES ($1, $2, $3)" in statements[0]
    with db.write() as conn:  # the next transaction on that session runs it without preparing again
        driver_execute(conn, [INSERT], {"id": 3, "note": "c", "at": AT})
        assert _session(conn) == (pid, statements)
    assert _rows(db) == [(1, "it's 100%", AT), (2, None, None), (3, "c", AT)]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pl22_statements_prepared_in_a_rolled_back_step_stay_usable(db: Database) -> None:
    with pytest.raises(RuntimeError), db.write() as conn:
        driver_execute(conn, [INSERT], {"id": 1, "note": "a", "at": AT})
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        raise RuntimeError("the step failed after writing")
    with pytest.raises(sa.exc.IntegrityError), db.write() as conn:  # a failing EXECUTE rolls back all
        assert _session(conn)[0] == pid  # the same pooled session: its PREPARE was not undone
        driver_execute(conn, [INSERT], {"id": 2, "note": "b", "at": AT})
        driver_execute(conn, [INSERT, INSERT], {"id": 2, "note": "b", "at": AT})
    assert _rows(db) == []
    with db.write() as conn:
        driver_execute(conn, [INSERT], {"id": 4, "note": "d", "at": AT})
        assert len(_session(conn)[1]) == 1
    assert _rows(db) == [(4, "d", AT)]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pl22_several_statements_go_in_one_round_trip_and_answer_with_the_last(db: Database) -> None:
    sent: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    batch = [INSERT, "UPDATE t_prep SET note = %(new)s || ' 100%%' WHERE id = %(id)s"]
    with db.write() as conn:
        rows, count = driver_execute(conn, batch, {"id": 1, "note": "a", "at": AT, "new": "b"})
    assert (rows, count) == ([], 1)
    assert sent == ["EXECUTE tessera_p1(%(id)s, %(note)s, %(at)s);\nEXECUTE tessera_p2(%(new)s, %(id)s)"]
    assert _rows(db) == [(1, "b 100%", AT)]  # a literal % in the statement survives its PREPARE


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pl22_a_session_prepares_at_most_its_limit_and_sends_the_rest_as_text(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared, "MAX_PER_SESSION", 1)
    other = "UPDATE t_prep SET note = note || ' 50%% off' WHERE id = %(id)s"
    with db.write() as conn:
        driver_execute(conn, [INSERT], {"id": 1, "note": "a", "at": AT})
        _rows_, count = driver_execute(conn, [other], {"id": 1})
        assert count == 1 and len(_session(conn)[1]) == 1
    assert _rows(db) == [(1, "a 50% off", AT)]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_pl22_a_session_the_pool_replaced_prepares_its_statements_again(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.write() as conn:
        driver_execute(conn, [INSERT], {"id": 1, "note": "a", "at": AT})
        first_pid = _session(conn)[0]
    admin = Database(database_url)
    try:
        with admin.write() as conn:  # the server ends that session (a restart, an idle timeout)
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
    finally:
        admin.dispose()
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
    with db.write() as conn:
        driver_execute(conn, [INSERT], {"id": 2, "note": "b", "at": AT})
        pid, statements = _session(conn)
    assert pid != first_pid and len(statements) == 1
    assert [r[0] for r in _rows(db)] == [1, 2]
