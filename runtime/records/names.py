"""Display names for ids found in records (references, users, departments), fetched in batches.

A list page or an export page with 25 rows and three reference columns must not run 75 queries:
callers first `prime` with every record they will show, then read names from the caches.
Reference titles go through `records.titles`, so a record the reader may not see shows as '#id'.
Used by the UI's cells and by exports, so both print the same names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from runtime.blueprints.model import Field
from runtime.records.context import Context
from runtime.storage import platform_tables as pt

USER_SYSTEM_FIELDS = ("created_by", "updated_by", "owner_id")


def user_names(app: Any, ids: Iterable[int]) -> dict[int, str]:
    wanted = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
    if not wanted:
        return {}
    q = sa.select(pt.users.c.id, pt.users.c.display_name, pt.users.c.username).where(pt.users.c.id.in_(wanted))
    with app.db.read() as conn:
        return {r.id: r.display_name or r.username for r in conn.execute(q)}


def department_names(app: Any, ids: Iterable[int]) -> dict[int, str]:
    wanted = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
    if not wanted:
        return {}
    q = sa.select(pt.departments.c.id, pt.departments.c.name).where(pt.departments.c.id.in_(wanted))
    with app.db.read() as conn:
        return {r.id: r.name for r in conn.execute(q)}


class Names:
    def __init__(self, app: Any, ctx: Context):
        self.app = app
        self.ctx = ctx
        self._titles: dict[str, dict[int, str]] = {}
        self._users: dict[int, str] = {}
        self._departments: dict[int, str] = {}

    def prime(self, fields: Iterable[Field], records: Iterable[dict[str, Any]]) -> Names:
        """Collect every id the given fields hold in these records (child rows included) and resolve them."""
        refs: dict[str, set[int]] = {}
        users: set[int] = set()
        departments: set[int] = set()
        fields = list(fields)

        def collect(fs: list[Field], rec: dict[str, Any]) -> None:
            for f in fs:
                value = rec.get(f.name)
                if f.type == "child_table" and isinstance(value, list):
                    for row in value:
                        if isinstance(row, dict):
                            collect(f.children, row)
                elif isinstance(value, int) and not isinstance(value, bool):
                    if f.type == "reference":
                        refs.setdefault(f.opt("entity"), set()).add(value)
                    elif f.type == "user":
                        users.add(value)
                    elif f.type == "department":
                        departments.add(value)

        for rec in records:
            collect(fields, rec)
            users.update(rec[k] for k in USER_SYSTEM_FIELDS if isinstance(rec.get(k), int))
        for entity_id, ids in refs.items():
            known = self._titles.setdefault(entity_id, {})
            missing = [i for i in ids if i not in known]
            if missing and entity_id in self.app.registry.entities:
                known.update(self.app.records.titles(entity_id, missing, self.ctx))
        self._users.update(user_names(self.app, users - set(self._users)))
        self._departments.update(department_names(self.app, departments - set(self._departments)))
        return self

    def title(self, entity_id: str, record_id: int) -> str:
        return self._titles.get(entity_id, {}).get(record_id, f"#{record_id}")

    def user(self, user_id: int) -> str:
        return self._users.get(user_id, f"#{user_id}")

    def department(self, department_id: int) -> str:
        return self._departments.get(department_id, f"#{department_id}")
