"""People and departments for user/department fields: select options and display names.

The identity service offers sign-in and single-user lookups but no listing, and users and
departments are platform data rather than blueprint records (they do not go through the records
service). These read-only queries give the pickers their options; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from runtime.records.names import department_names, user_names
from runtime.services import Tessera
from runtime.storage import platform_tables as pt

MAX_OPTIONS = 2000
"""A select with more people than this is unusable anyway; a hospital CRM has far fewer users."""


@dataclass(frozen=True)
class Choice:
    value: int
    label: str
    depth: int = 0


def user_choices(tessera: Tessera) -> list[Choice]:
    q = (
        sa.select(pt.users.c.id, pt.users.c.display_name, pt.users.c.username)
        .where(pt.users.c.active.is_(True))
        .order_by(pt.users.c.display_name, pt.users.c.id)
        .limit(MAX_OPTIONS)
    )
    with tessera.db.read() as conn:
        return [Choice(r.id, r.display_name or r.username) for r in conn.execute(q)]


def department_choices(tessera: Tessera) -> list[Choice]:
    """Departments in tree order with their depth, so the select can indent sub-departments."""
    with tessera.db.read() as conn:
        rows = list(
            conn.execute(sa.select(pt.departments).order_by(pt.departments.c.name).limit(MAX_OPTIONS))
        )
    ids = {r.id for r in rows}
    children: dict[int | None, list] = {}
    for r in rows:
        parent = r.parent_id if r.parent_id in ids else None
        children.setdefault(parent, []).append(r)
    out: list[Choice] = []

    def walk(parent: int | None, depth: int) -> None:
        for r in children.get(parent, []):
            out.append(Choice(r.id, r.name, depth))
            if depth < 20:
                walk(r.id, depth + 1)

    walk(None, 0)
    return out


__all__ = ["department_names", "user_names", "user_choices", "department_choices"]
