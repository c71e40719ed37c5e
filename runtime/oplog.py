"""Operation log (PL-21): security- and operations-relevant events that are not record changes.

Logins, failed logins, lockouts, exports, imports, pack deploys, permission changes, password
resets, API-token changes and system-parameter / module-switch changes each leave one row in
``tessera_oplog``. Record changes go to the audit trail instead (`runtime.audit`).

``record_operation`` accepts either a :class:`Database` (writes in its own short transaction, so
the entry survives even if the caller's transaction later fails — what you want for a failed
login) or an open :class:`Connection` (the entry commits or rolls back with the caller's work —
what you want for a deploy or a permission change).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.storage.database import Database
from runtime.storage.platform_tables import oplog

KINDS = (
    "login",
    "login_failed",
    "account_locked",
    "logout",
    "export",
    "print",
    "import",
    "pack_deploy",
    "permission_change",
    "password_reset",
    "token_created",
    "token_revoked",
    "param_change",
    "workflow_migrate",
)
"""``param_change`` covers system parameters and module switches (runtime.params, /api/v1/admin/params)."""


@dataclass(frozen=True)
class Actor:
    """Who did it, as the operation log records it: the signed-in user and their request."""

    user_id: int | None = None
    username: str | None = None
    ip: str | None = None
    request_id: str | None = None

    def fields(self) -> dict[str, Any]:
        """Keyword arguments for :func:`record_operation`."""
        return {"actor_id": self.user_id, "username": self.username, "ip": self.ip, "request_id": self.request_id}


_MAX_USERNAME = 64
_MAX_IP = 64
_MAX_REQUEST_ID = 64


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def record_operation(
    db_or_conn: Database | Connection,
    kind: str,
    *,
    actor_id: int | None = None,
    username: str | None = None,
    ip: str | None = None,
    request_id: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Append one operation-log entry and return its id.

    ``at`` should come from the caller's clock (``tessera.clock.now()``); it defaults to the
    system clock (naive UTC) for callers that have none.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown operation kind {kind!r}; known: {', '.join(KINDS)}")
    values = {
        "at": at or _now(),
        "kind": kind,
        "actor_id": actor_id,
        "username": _clip(username, _MAX_USERNAME),
        "ip": _clip(ip, _MAX_IP),
        "request_id": _clip(request_id, _MAX_REQUEST_ID),
        "detail": _jsonable(detail or {}),
    }
    if isinstance(db_or_conn, Database):
        with db_or_conn.write() as conn:
            return _insert(conn, values)
    return _insert(db_or_conn, values)


def _insert(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(sa.insert(oplog).values(**values).returning(oplog.c.id))
    return int(result.scalar_one())


def _clip(text: str | None, size: int) -> str | None:
    """Typed-in names (a failed login's username) may hold anything; PostgreSQL text cannot hold NUL."""
    return text.replace("\x00", "\\0")[:size] if text else text


def _jsonable(value: Any) -> Any:
    """Detail goes into a JSON column: dates become ISO strings, sets/tuples lists, others str."""
    if isinstance(value, str):
        return value.replace("\x00", "\\0")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {_jsonable(str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class OpFilter:
    kind: str | tuple[str, ...] | None = None
    actor_id: int | None = None
    username: str | None = None
    ip: str | None = None
    request_id: str | None = None
    since: datetime | None = None
    """Inclusive lower bound on ``at``."""
    until: datetime | None = None
    """Exclusive upper bound on ``at``."""


def query_operations(
    db_or_conn: Database | Connection,
    filters: OpFilter | None = None,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first; keyset paging: pass the last row's ``id`` as ``before_id`` for the next page."""
    f = filters or OpFilter()
    stmt = sa.select(oplog)
    if f.kind:
        kinds = (f.kind,) if isinstance(f.kind, str) else tuple(f.kind)
        stmt = stmt.where(oplog.c.kind.in_(kinds))
    if f.actor_id is not None:
        stmt = stmt.where(oplog.c.actor_id == f.actor_id)
    if f.username:
        stmt = stmt.where(oplog.c.username == f.username)
    if f.ip:
        stmt = stmt.where(oplog.c.ip == f.ip)
    if f.request_id:
        stmt = stmt.where(oplog.c.request_id == f.request_id)
    if f.since is not None:
        stmt = stmt.where(oplog.c.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(oplog.c.at < f.until)
    if before_id is not None:
        stmt = stmt.where(oplog.c.id < before_id)
    stmt = stmt.order_by(oplog.c.id.desc()).limit(max(1, min(int(limit), 500)))
    if isinstance(db_or_conn, Database):
        with db_or_conn.read() as conn:
            rows = conn.execute(stmt).mappings().all()
    else:
        rows = db_or_conn.execute(stmt).mappings().all()
    return [dict(r) for r in rows]
