"""Reading the audit trail: one record's timeline, and the administrator's search with filters.

Both are newest first with keyset paging on the row id (``before_id`` = the last id of the previous
page), so paging stays fast however long the trail grows and never skips or repeats a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from runtime.storage.database import Database
from runtime.storage.platform_tables import audit

MAX_LIMIT = 500


@dataclass(frozen=True)
class AuditFilter:
    entity: str | None = None
    record_id: int | None = None
    actor_id: int | None = None
    channel: str | None = None
    action: str | None = None
    request_id: str | None = None
    since: datetime | None = None
    """Inclusive lower bound on ``at``."""
    until: datetime | None = None
    """Exclusive upper bound on ``at``."""


@dataclass
class AuditPage:
    items: list[dict[str, Any]]
    next_before_id: int | None
    """Pass as ``before_id`` to get the next (older) page; None when this is the last page."""

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "next_before_id": self.next_before_id}


def search(
    db: Database, filters: AuditFilter | None = None, *, limit: int = 50, before_id: int | None = None
) -> AuditPage:
    f = filters or AuditFilter()
    where: list[sa.ColumnElement[bool]] = []
    if f.entity:
        where.append(audit.c.entity == f.entity)
    if f.record_id is not None:
        where.append(audit.c.record_id == f.record_id)
    if f.actor_id is not None:
        where.append(audit.c.actor_id == f.actor_id)
    if f.channel:
        where.append(audit.c.channel == f.channel)
    if f.action:
        where.append(audit.c.action == f.action)
    if f.request_id:
        where.append(audit.c.request_id == f.request_id)
    if f.since is not None:
        where.append(audit.c.at >= f.since)
    if f.until is not None:
        where.append(audit.c.at < f.until)
    if before_id is not None:
        where.append(audit.c.id < before_id)
    limit = max(1, min(int(limit), MAX_LIMIT))
    stmt = sa.select(audit).where(*where).order_by(audit.c.id.desc()).limit(limit + 1)
    with db.read() as conn:
        rows = [_row(r) for r in conn.execute(stmt).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, rows[-1]["id"] if more and rows else None)


def timeline(db: Database, entity: str, record_id: int, *, limit: int = 50, before_id: int | None = None) -> AuditPage:
    """One record's history, newest first (served by the (entity, record_id) index)."""
    return search(db, AuditFilter(entity=entity, record_id=record_id), limit=limit, before_id=before_id)


def _row(r: Any) -> dict[str, Any]:
    return {
        "id": r["id"],
        "at": r["at"].isoformat(timespec="seconds"),
        "entity": r["entity"],
        "record_id": r["record_id"],
        "action": r["action"],
        "actor_id": r["actor_id"],
        "channel": r["channel"],
        "request_id": r["request_id"],
        "changes": r["changes"],
    }
