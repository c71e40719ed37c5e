"""Roles in the database (tessera_roles): shipped pack roles are upserted there, administrators edit them.

A shipped role is rewritten from its pack on every deploy and registry load, unless an administrator
changed it (`customised`): then the administrator's version wins until an explicit reset.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.blueprints.model import Pack
from runtime.clock import SystemClock
from runtime.permissions.model import Role, role_from_row, shipped_roles
from runtime.storage import platform_tables as pt
from runtime.storage.database import Database


def load_roles(conn: Connection) -> dict[str, Role]:
    return {r.id: role_from_row(r) for r in conn.execute(sa.select(pt.roles))}


def _values(role: Role, now: datetime) -> dict:
    return {
        "label": role.label,
        "parent_id": role.parent,
        "pack_id": role.pack_id,
        "permissions": role.stored(),
        "updated_at": now,
    }


def _same(a: Role, b: Role) -> bool:
    return (a.label, a.parent, a.pack_id, a.stored()) == (b.label, b.parent, b.pack_id, b.stored())


def save_role(conn: Connection, role: Role, now: datetime) -> None:
    updated = conn.execute(sa.update(pt.roles).where(pt.roles.c.id == role.id).values(**_values(role, now))).rowcount
    if not updated:
        conn.execute(sa.insert(pt.roles).values(id=role.id, **_values(role, now)))


def sync_shipped_roles(db: Database, packs: Mapping[str, Pack], now: datetime | None = None) -> bool:
    """Upsert the roles the deployed packs ship; customised rows are left alone. True if anything changed.

    Several workers may do this at once: a lost race (the row appeared meanwhile) is harmless, the
    next registry load sees it.
    """
    shipped = shipped_roles(packs)
    if not shipped:
        return False
    with db.read() as conn:
        existing = load_roles(conn)
    changes = [
        role
        for rid, role in shipped.items()
        if rid not in existing or (not existing[rid].customised and not _same(existing[rid], role))
    ]
    if not changes:
        return False
    now = now or SystemClock().now()
    try:
        with db.write() as conn:
            for role in changes:
                current = conn.execute(sa.select(pt.roles).where(pt.roles.c.id == role.id)).first()
                if current is not None and role_from_row(current).customised:
                    continue
                save_role(conn, role, now)
    except sa.exc.IntegrityError:
        return False
    return True
