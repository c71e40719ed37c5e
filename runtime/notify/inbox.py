"""The notification centre's reads and writes: a user's notifications, unread count, marking read.

Only ever for the signed-in user's own rows (every query filters by user_id), whatever wrote them:
the notifier or the workflow host's notify action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from runtime.errors import NotFound
from runtime.storage import platform_tables as pt
from runtime.storage.database import Database

t = pt.notifications


def as_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "body": row.body,
        "link": row.link,
        "created_at": row.created_at.isoformat(timespec="seconds"),
        "read_at": row.read_at.isoformat(timespec="seconds") if row.read_at else None,
    }


def unread_count(db: Database, user_id: int) -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(t).where(t.c.user_id == user_id, t.c.read_at.is_(None))
            ).scalar_one()
        )


def listing(
    db: Database, user_id: int, *, unread_only: bool = False, limit: int = 50, after_id: int | None = None
) -> list[dict[str, Any]]:
    """Newest first; ``after_id`` gives only the ones newer than that (the live stream's increments)."""
    query = sa.select(t).where(t.c.user_id == user_id)
    if unread_only:
        query = query.where(t.c.read_at.is_(None))
    if after_id is not None:
        query = query.where(t.c.id > after_id)
    with db.read() as conn:
        rows = conn.execute(query.order_by(t.c.id.desc()).limit(max(1, min(limit, 500)))).all()
    return [as_dict(r) for r in rows]


def latest_id(db: Database, user_id: int) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.max(t.c.id)).where(t.c.user_id == user_id)).scalar() or 0)


def mark_read(db: Database, user_id: int, notification_id: int, now: datetime) -> dict[str, Any]:
    with db.write() as conn:
        row = conn.execute(sa.select(t).where(t.c.id == notification_id, t.c.user_id == user_id)).first()
        if row is None:
            raise NotFound(f"notification {notification_id} does not exist")
        if row.read_at is None:
            conn.execute(sa.update(t).where(t.c.id == notification_id).values(read_at=now))
        row = conn.execute(sa.select(t).where(t.c.id == notification_id)).first()
    return as_dict(row)


def mark_all_read(db: Database, user_id: int, now: datetime) -> int:
    with db.write() as conn:
        result = conn.execute(sa.update(t).where(t.c.user_id == user_id, t.c.read_at.is_(None)).values(read_at=now))
    return int(result.rowcount or 0)
