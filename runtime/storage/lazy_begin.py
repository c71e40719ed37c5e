"""psycopg2 connections that send BEGIN together with the transaction's first statement.

psycopg2 opens every transaction with a separate ``BEGIN`` round trip before the first statement. On a
busy server most of a short statement's cost is the round trip itself (waking the server process and
waking us again), not parsing or planning, so a one-step workflow action that reads, then writes, then
commits pays four round trips where three do the work. This connection keeps psycopg2 in autocommit mode
at the protocol level and opens the transaction itself: ``BEGIN;`` is prefixed to the first statement of
each transaction (one round trip for both), ``commit()``/``rollback()`` send ``COMMIT``/``ROLLBACK`` only
when the server really is in a transaction (libpq's transaction status, known without asking the server).

For everything above the driver (SQLAlchemy, ``conn.connection.driver_connection.cursor()`` in
runtime/records/fetch.py) it behaves as an ordinary non-autocommit psycopg2 connection: the same
statements run in the same single server transaction, committed or rolled back as before. ``autocommit``
and ``set_isolation_level`` keep their meaning (AUTOCOMMIT sends no BEGIN at all; another isolation level
is named in the BEGIN). Server-side (named) cursors are refused: psycopg2 allows them only when it manages
the transaction itself, and nothing in Tessera uses them.
"""

from __future__ import annotations

from typing import Any

import psycopg2
import psycopg2.extensions as ext

_IDLE = ext.TRANSACTION_STATUS_IDLE
_LEVELS = {
    ext.ISOLATION_LEVEL_READ_UNCOMMITTED: "READ UNCOMMITTED",
    ext.ISOLATION_LEVEL_READ_COMMITTED: "READ COMMITTED",
    ext.ISOLATION_LEVEL_REPEATABLE_READ: "REPEATABLE READ",
    ext.ISOLATION_LEVEL_SERIALIZABLE: "SERIALIZABLE",
}
_set_protocol_autocommit = ext.connection.autocommit.__set__


class LazyBeginCursor(ext.cursor):
    """Opens the connection's transaction with the first statement that needs one."""

    connection: LazyBeginConnection

    def execute(self, query: Any, vars: Any = None) -> None:  # noqa: A002 - psycopg2's parameter name
        begin = self.connection._pending_begin()
        if begin is not None:
            query = _prefixed(begin, query, self.connection)
        return super().execute(query, vars)

    def executemany(self, query: Any, vars_list: Any) -> None:
        self.connection._begin_now(self)
        return super().executemany(query, vars_list)

    def callproc(self, procname: str, parameters: Any = None) -> Any:
        self.connection._begin_now(self)
        return super().callproc(procname, parameters)

    def copy_expert(self, sql: Any, file: Any, size: int = 8192) -> None:
        self.connection._begin_now(self)
        return super().copy_expert(sql, file, size)

    def copy_from(self, file: Any, table: str, *args: Any, **kwargs: Any) -> None:
        self.connection._begin_now(self)
        return super().copy_from(file, table, *args, **kwargs)

    def copy_to(self, file: Any, table: str, *args: Any, **kwargs: Any) -> None:
        self.connection._begin_now(self)
        return super().copy_to(file, table, *args, **kwargs)


class LazyBeginConnection(ext.connection):
    """A psycopg2 connection whose transactions start with their first statement (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._autocommit = False
        self._begin_sql = "BEGIN"
        _set_protocol_autocommit(self, True)
        self.cursor_factory = LazyBeginCursor

    # what callers see: an ordinary connection ------------------------------------------------------------
    @property
    def autocommit(self) -> bool:  # type: ignore[override]
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        if self.get_transaction_status() != _IDLE:
            raise psycopg2.ProgrammingError("set_session cannot be used inside a transaction")
        self._autocommit = bool(value)

    @property
    def isolation_level(self) -> int | None:  # type: ignore[override]
        if self._begin_sql == "BEGIN":
            return None
        return next(k for k, v in _LEVELS.items() if self._begin_sql.endswith(v))

    def set_isolation_level(self, level: int | None) -> None:
        """0 is autocommit; a level names the isolation in each BEGIN (None: the server's default)."""
        self.rollback()  # psycopg2 ends a running transaction here too
        if level == ext.ISOLATION_LEVEL_AUTOCOMMIT:
            self._autocommit = True
            return
        self._autocommit = False
        default = level in (None, ext.ISOLATION_LEVEL_DEFAULT)
        self._begin_sql = "BEGIN" if default else f"BEGIN ISOLATION LEVEL {_LEVELS[level]}"

    def set_session(
        self, isolation_level: Any = None, readonly: Any = None, deferrable: Any = None, autocommit: Any = None
    ) -> None:
        """psycopg2 would switch its own transaction handling back on here: autocommit and isolation are ours."""
        if isolation_level is not None:
            level = isolation_level if isinstance(isolation_level, int) else _level_number(isolation_level)
            self.set_isolation_level(level)
        if autocommit is not None:
            self.autocommit = autocommit
        if readonly is not None or deferrable is not None:
            super().set_session(readonly=readonly, deferrable=deferrable)

    def cursor(self, name: str | None = None, **kwargs: Any) -> Any:
        if name is not None:
            raise psycopg2.NotSupportedError("server-side (named) cursors are not supported by LazyBeginConnection")
        return super().cursor(**kwargs)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """``with conn:`` commits or rolls back like psycopg2's (whose C version would not see our transaction)."""
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    def commit(self) -> None:
        if self.get_transaction_status() != _IDLE:
            self._run("COMMIT")

    def rollback(self) -> None:
        if not self.closed and self.get_transaction_status() != _IDLE:
            self._run("ROLLBACK")

    # the transaction ------------------------------------------------------------------------------------
    def _pending_begin(self) -> str | None:
        """The BEGIN to send with the next statement, if a transaction should start and has not yet."""
        if self._autocommit or self.get_transaction_status() != _IDLE:
            return None
        return self._begin_sql

    def _begin_now(self, cursor: ext.cursor) -> None:
        """For calls that cannot carry a prefix (executemany, COPY, callproc): BEGIN on its own."""
        begin = self._pending_begin()
        if begin is not None:
            ext.cursor.execute(cursor, begin)

    def _run(self, sql: str) -> None:
        with ext.connection.cursor(self) as cur:
            ext.cursor.execute(cur, sql)


def _level_number(name: str) -> int:
    wanted = name.upper().replace("_", " ")
    if wanted == "DEFAULT":
        return ext.ISOLATION_LEVEL_DEFAULT
    if wanted == "AUTOCOMMIT":
        return ext.ISOLATION_LEVEL_AUTOCOMMIT
    return next(k for k, v in _LEVELS.items() if v == wanted)


def _prefixed(begin: str, query: Any, conn: ext.connection) -> str | bytes:
    if isinstance(query, bytes):
        return begin.encode() + b";" + query
    if not isinstance(query, str):  # psycopg2.sql.Composable
        query = query.as_string(conn)
    return f"{begin};{query}"
