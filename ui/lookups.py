"""Display names for ids found in records (references, users, departments), fetched in batches.

A list page with 25 rows and three reference columns must not run 75 queries: pages first
`prime` the lookups with every record they will show, then cells read from the caches.
Reference titles go through ``records.titles`` so a record the user may not see shows as '#id'.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runtime.blueprints.model import Field
from runtime.records import Context
from runtime.services import Tessera
from ui import directory


class Lookups:
    def __init__(self, tessera: Tessera, ctx: Context):
        self.tessera = tessera
        self.ctx = ctx
        self._titles: dict[str, dict[int, str]] = {}
        self._users: dict[int, str] = {}
        self._departments: dict[int, str] = {}

    def prime(self, fields: Iterable[Field], records: Iterable[dict[str, Any]]) -> Lookups:
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
            for key in ("created_by", "updated_by", "owner_id"):
                if isinstance(rec.get(key), int):
                    users.add(rec[key])
        for entity_id, ids in refs.items():
            missing = [i for i in ids if i not in self._titles.get(entity_id, {})]
            if missing and entity_id in self.tessera.registry.entities:
                self._titles.setdefault(entity_id, {}).update(
                    self.tessera.records.titles(entity_id, missing, self.ctx)
                )
        self._users.update(directory.user_names(self.tessera, users - set(self._users)))
        self._departments.update(
            directory.department_names(self.tessera, departments - set(self._departments))
        )
        return self

    def title(self, entity_id: str, record_id: int) -> str:
        return self._titles.get(entity_id, {}).get(record_id, f"#{record_id}")

    def user(self, user_id: int) -> str:
        return self._users.get(user_id, f"#{user_id}")

    def department(self, department_id: int) -> str:
        return self._departments.get(department_id, f"#{department_id}")
