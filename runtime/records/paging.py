"""One list page and its capped count: the SQL around the records service's WHERE clauses.

The service decides *which* rows (filters, search, data scope, each a SQLAlchemy clause built
per call); this module decides how they are paged (keyset cursor, nulls last, two phases for a
simple sort) and runs the statements through `fetch.CompiledFetch`. The parts that never change
for a given table, sort and phase (the cursor condition, ORDER BY, LIMIT) are built once as a
*frame* with named parameters and reused; only the WHERE clauses are attached per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from runtime.records.fetch import CompiledFetch
from runtime.records.query import COUNT_CAP, ListQuery, after_clause, is_simple_sort, order_by, simple_after

LIMIT_PARAM = "tf_page_limit"


def _cursor_param(i: int) -> str:
    return f"tf_cursor_{i}"


@dataclass(frozen=True)
class PageRows:
    rows: list[Sequence[Any]]
    type_codes: tuple[Any, ...]


class Pager:
    """Pages and counts over a main table, with the frames and compiled SQL cached per shape."""

    def __init__(self, dialect: Dialect):
        self.fetch = CompiledFetch(dialect)
        self._frames: dict[tuple, sa.Select] = {}

    def page(
        self,
        conn: Connection,
        table: sa.Table,
        where: list,
        sort: list[tuple[str, bool]],
        values: list | None,
        limit: int,
        sort_key_never_null: bool = False,
        *,
        shape: tuple | None = None,
        named: dict[str, Any] | None = None,
    ) -> PageRows:
        """One page (limit + 1 rows, to know whether more follow) in nulls-last sort order.

        `sort_key_never_null` says a filter already excludes NULL sort keys: then neither the
        `IS NOT NULL` term (which SQLite would use as the index range start instead of the cursor)
        nor the NULL phase is needed. `shape` is the service's key of the WHERE clauses' structure and
        `named` the values of their named parameters.
        """
        want = limit + 1
        cursor_shape = None if values is None else tuple(v is None for v in values)
        codes: tuple = ()

        def run(phase: str, extra: tuple, count: int) -> list:
            nonlocal codes
            frame = self._frame(table, sort, phase, cursor_shape)
            params = {**(named or {}), LIMIT_PARAM: count}
            if values is not None:
                params.update({_cursor_param(i): v for i, v in enumerate(values) if v is not None})
            key = None if shape is None else (phase, shape, tuple(sort), cursor_shape, sort_key_never_null)
            q = frame.where(*where, *extra)
            fetched = self.fetch.rows(conn, table, q, shape=key, values=params)
            codes = fetched.type_codes or codes
            return list(fetched.rows)

        if not is_simple_sort(sort):
            return PageRows(run("any-sort", (), want), codes)
        col = table.c[sort[0][0]]
        rows: list = []
        if values is None or values[0] is not None:
            rows = run("keyed", (col.is_not(None),) if values is None and not sort_key_never_null else (), want)
        if len(rows) < want and not sort_key_never_null:
            rows += run("null-keys", (col.is_(None),), want - len(rows))
        return PageRows(rows, codes)

    def _frame(
        self, table: sa.Table, sort: list[tuple[str, bool]], phase: str, cursor_shape: tuple | None
    ) -> sa.Select:
        """The cursor condition, ORDER BY and LIMIT of a phase, with named parameters (cached)."""
        key = (id(table), tuple(sort), phase, cursor_shape)
        frame = self._frames.get(key)
        if frame is None:
            frame = self._build_frame(table, sort, phase, cursor_shape)
            if len(self._frames) > 2000:
                self._frames.clear()
            self._frames[key] = frame
        return frame

    @staticmethod
    def _build_frame(
        table: sa.Table, sort: list[tuple[str, bool]], phase: str, cursor_shape: tuple | None
    ) -> sa.Select:
        base = sa.select(sa.literal_column("1")).select_from(table)
        marks = None
        if cursor_shape is not None:
            marks = [
                None if empty else sa.bindparam(_cursor_param(i), None, type_=table.c[name].type, required=False)
                for i, ((name, _), empty) in enumerate(zip(sort, cursor_shape, strict=True))
            ]
        limit = sa.bindparam(LIMIT_PARAM, None, type_=sa.Integer(), required=False)
        if phase == "any-sort":
            q = base.where(after_clause(table, sort, marks)) if marks is not None else base
            return q.order_by(*order_by(table, sort)).limit(limit)
        (name, desc), (_, id_desc) = sort
        col, idcol = table.c[name], table.c.id
        id_order = idcol.desc() if id_desc else idcol
        if phase == "keyed":
            # the cursor bound goes first: SQLite uses the first usable range term to seek the index
            q = base.where(simple_after(table, sort, marks)) if marks is not None else base
            return q.order_by(col.desc() if desc else col, id_order).limit(limit)
        q = base
        if marks is not None and marks[0] is None:  # the cursor is already inside the NULL keys
            q = q.where(idcol < marks[1] if id_desc else idcol > marks[1])
        return q.order_by(id_order).limit(limit)

    # counts ---------------------------------------------------------------------------------------
    def count(
        self,
        conn: Connection,
        table: sa.Table,
        where: list,
        query: ListQuery,
        shape: tuple | None = None,
        named: dict[str, Any] | None = None,
    ) -> tuple[int | None, bool]:
        """Exact when asked; otherwise counted only up to COUNT_CAP (the UI shows "10,000+")."""
        if query.count == "exact":
            exact = sa.select(sa.func.count()).select_from(table).where(*where)
            return self.fetch.scalar(conn, exact, shape=shape and ("count-exact", shape), values=named), True
        capped = sa.select(sa.literal(1)).select_from(table).where(*where).limit(COUNT_CAP + 1).subquery()
        statement = sa.select(sa.func.count()).select_from(capped)
        n = self.fetch.scalar(conn, statement, shape=shape and ("count", shape), values=named)
        return min(n, COUNT_CAP), n <= COUNT_CAP
