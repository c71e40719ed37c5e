"""One engine wrapper for SQLite and PostgreSQL.

SQLite needs two adjustments to behave like PostgreSQL for us: pysqlite's own transaction
handling is switched off so that DDL runs inside our transactions (a failed pack deploy must
roll back completely), and write transactions start with BEGIN IMMEDIATE so two writers queue on
the lock instead of failing with "database is locked" when a read lock is upgraded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from runtime.storage.lazy_begin import LazyBeginConnection

WRITE_OPTION = "tessera_write"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo)
    connect_args: dict[str, Any] = {}
    if sa.engine.make_url(url).get_driver_name() == "psycopg2":
        connect_args["connection_factory"] = LazyBeginConnection  # BEGIN rides on the first statement
    engine = sa.create_engine(url, echo=echo, pool_size=10, max_overflow=20, future=True, connect_args=connect_args)
    _ping_idle_connections(engine)
    return engine


IDLE_PING_SECONDS = 10.0
"""A pooled connection unused this long is pinged before use; a busy one is not."""


def _ping_idle_connections(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip per checkout.

    ``pool_pre_ping`` sends a ping on every checkout: two extra round trips for a workflow step that
    reads and then writes. A connection that was in use a moment ago is alive; only one idle for a
    while (a database restart, a firewall dropping quiet sockets) is pinged. A failed ping raises
    DisconnectionError, on which the pool discards the connection and checks out a fresh one.
    """

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["tessera_idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("tessera_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            if not dbapi_conn.autocommit:
                dbapi_conn.rollback()  # leave no transaction open behind the pool's back
        except Exception as exc:
            raise sa.exc.DisconnectionError(f"stale pooled connection: {exc}") from exc


def _sqlite_engine(url: str, echo: bool) -> Engine:
    db_path = sa.engine.make_url(url).database
    if db_path and db_path != ":memory:":
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}, future=True)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001 - DBAPI objects are untyped
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # straight on the DBAPI connection: through exec_driver_sql this cost more than a list page's query
        begin = "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN"
        conn.connection.dbapi_connection.execute(begin)

    return engine


class Database:
    """The engine plus the two kinds of transaction the runtime uses."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        self.engine = make_engine(url, echo=echo)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: committed on success, rolled back on any exception."""
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
