"""Error log (PL-21): every unhandled exception, kept with the request id the user was shown.

``record_error`` never raises: it is called from the last-resort error handler, which must answer
the user even when the database itself is what failed. Administrators read the log through
``/api/v1/admin/errors``; users quote the request id from the friendly error page.
"""

from __future__ import annotations

import logging
import traceback as tb
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from runtime.storage.database import Database
from runtime.storage.platform_tables import errors

log = logging.getLogger("tessera.errorlog")

MAX_MESSAGE = 10_000
MAX_TRACEBACK = 100_000


def record_error(
    db: Database,
    exc: BaseException,
    *,
    request_id: str | None = None,
    method: str | None = None,
    path: str | None = None,
    user_id: int | None = None,
    at: datetime | None = None,
) -> int | None:
    """Store one unhandled exception; returns the row id, or None if it could not be stored."""
    try:
        error_type = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
        trace = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
        values = {
            "at": at or datetime.now(UTC).replace(tzinfo=None),
            "request_id": request_id[:64] if request_id else None,
            "method": method[:10] if method else None,
            "path": path[:500] if path else None,
            "user_id": user_id if isinstance(user_id, int) else None,
            "error_type": error_type[:200],
            "message": _clean(str(exc))[:MAX_MESSAGE],
            "traceback": _clean(trace)[-MAX_TRACEBACK:],
        }
        with db.write() as conn:
            return int(conn.execute(sa.insert(errors).values(**values).returning(errors.c.id)).scalar_one())
    except Exception:  # noqa: BLE001 - the error log must never turn one failure into two
        log.exception("could not store the error of request %s in the error log", request_id)
        return None


def _clean(text: str) -> str:
    """PostgreSQL text cannot hold NUL characters."""
    return text.replace("\x00", "\\0")


@dataclass(frozen=True)
class ErrorFilter:
    request_id: str | None = None
    error_type: str | None = None
    path: str | None = None
    """Prefix match on the request path."""
    user_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def query_errors(
    db: Database, filters: ErrorFilter | None = None, *, limit: int = 50, before_id: int | None = None
) -> list[dict[str, Any]]:
    """Newest first, without tracebacks (see ``get_error``); keyset paging with ``before_id``."""
    f = filters or ErrorFilter()
    cols = [c for c in errors.c if c.name != "traceback"]
    stmt = sa.select(*cols)
    if f.request_id:
        stmt = stmt.where(errors.c.request_id == f.request_id)
    if f.error_type:
        stmt = stmt.where(errors.c.error_type == f.error_type)
    if f.path:
        stmt = stmt.where(errors.c.path.startswith(f.path, autoescape=True))
    if f.user_id is not None:
        stmt = stmt.where(errors.c.user_id == f.user_id)
    if f.since is not None:
        stmt = stmt.where(errors.c.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(errors.c.at < f.until)
    if before_id is not None:
        stmt = stmt.where(errors.c.id < before_id)
    stmt = stmt.order_by(errors.c.id.desc()).limit(max(1, min(int(limit), 500)))
    with db.read() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def get_error(db: Database, error_id: int) -> dict[str, Any] | None:
    with db.read() as conn:
        row = conn.execute(sa.select(errors).where(errors.c.id == error_id)).mappings().first()
    return dict(row) if row else None
