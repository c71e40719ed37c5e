"""Filter clauses built once per (table, position, field, operator) with named parameters.

Building `col >= value` with SQLAlchemy costs tens of microseconds per filter on every list call,
about as much as the database needs for a whole page. For the operators whose SQL does not depend
on the value (eq, ne, lt, lte, gt, gte, between on plain columns) the clause is built once by the
same `query.filter_clause`, with `bindparam` placeholders instead of values, and each call only
supplies the values by name. Anything else (IN lists, contains, empty, encrypted or JSON fields,
NULL values) is built per call as before, so there is still one definition of every filter.
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

from runtime.blueprints.model import Entity
from runtime.fields.storage import is_encrypted
from runtime.records.query import Filter, field_for, filter_clause
from runtime.security.crypto import TableCrypt

TEMPLATED_OPS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "between"})
JSON_TYPES = frozenset({"multiselect", "tags", "region", "file", "image", "json", "child_table"})
MAX_TEMPLATES = 4000


class FilterTemplates:
    def __init__(self, dialect: str):
        self.dialect = dialect
        self._clauses: dict[tuple, sa.ColumnElement[bool]] = {}
        self._lock = threading.Lock()

    def clause(
        self, entity: Entity, table: sa.Table, index: int, flt: Filter, crypt: TableCrypt | None
    ) -> tuple[sa.ColumnElement[bool], dict[str, Any]]:
        """The clause for the index-th filter and the values of its named parameters (may be empty)."""
        values = flt.value if flt.op == "between" else [flt.value]
        if not self._templatable(entity, flt, values):
            return filter_clause(entity, table, flt, self.dialect, crypt), {}
        names = [f"tf_filter_{index}_{k}" for k in range(len(values))]
        key = (id(table), index, flt.field, flt.op)
        found = self._clauses.get(key)
        if found is None:
            column_type = table.c[flt.field].type
            marks = [sa.bindparam(n, None, type_=column_type, required=False) for n in names]
            placeholder = Filter(flt.field, flt.op, marks if flt.op == "between" else marks[0])
            found = filter_clause(entity, table, placeholder, self.dialect, crypt)
            with self._lock:
                if len(self._clauses) >= MAX_TEMPLATES:
                    self._clauses.clear()
                self._clauses[key] = found
        return found, dict(zip(names, values, strict=True))

    @staticmethod
    def _templatable(entity: Entity, flt: Filter, values: list[Any]) -> bool:
        if flt.op not in TEMPLATED_OPS or any(v is None for v in values):
            return False
        f = field_for(entity, flt.field)
        return f.type not in JSON_TYPES and not is_encrypted(f)
