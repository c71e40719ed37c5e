"""List pages and counts on the raw driver cursor, through SQL compiled once per query shape.

Why: a 25-row page costs the database about 0.2 ms, but building the SQLAlchemy statement,
computing its cache key over every column, and SQLAlchemy's typed row processing cost three to
five times that (bench/README.md). The records service still builds its WHERE clauses with
SQLAlchemy (one definition of every filter, scope and cursor condition); this module compiles
the SELECT around them once per *shape* (same clauses, different values), then for each call
only extracts the bound values, runs the cached SQL on the DBAPI cursor and returns raw tuples
in `table.c` order. Converting those tuples to JSON is `convert.RawRowReader`'s job.

Values are bound exactly as SQLAlchemy would bind them (the type's bind processor), so a date on
SQLite is compared as the same text SQLAlchemy stored. IN lists are expanded per list length.
Any shape this module cannot map with certainty is compiled for that one call instead (correct,
just not cached).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import BindParameter

MAX_TEMPLATES = 512
"""Shapes kept per process (filters x sorts x scopes in use); when full, the cache starts again."""
_MISSING = object()


@dataclass(frozen=True)
class Fetched:
    rows: list[Sequence[Any]]
    type_codes: tuple[Any, ...]
    """The driver's type code per column (cursor.description): some result processors need them."""


@dataclass(frozen=True)
class _Slot:
    """Where one extracted value goes: its compiled name (or names, for an IN list) and bind processor."""

    names: tuple[str, ...]
    expanding: bool
    process: Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Template:
    sql: str
    slots: tuple[_Slot, ...]
    fixed: dict[str, Any]
    """Values the compiler added itself (e.g. SQLite's `OFFSET 0`), already processed."""
    order: tuple[str, ...] | None
    """Parameter names in position order for positional drivers (SQLite), None for named ones."""


class CompiledFetch:
    """Runs skeleton SELECTs (see `rows`) with all of a table's columns, cached per shape."""

    def __init__(self, dialect: Dialect):
        self.dialect = dialect
        self._templates: dict[Any, _Template | None] = {}
        self._lock = threading.Lock()

    def rows(
        self,
        conn: Connection,
        table: sa.Table,
        skeleton: sa.Select,
        *,
        shape: Any = None,
        values: dict[str, Any] | None = None,
    ) -> Fetched:
        """Rows of `skeleton` (a `select(literal_column('1')).select_from(table)...` carrying the WHERE,
        ORDER BY and LIMIT) with every column of `table`, as raw driver tuples in `table.c` order.

        `shape`: the caller's own small key of the statement's SQL structure (see `_run`).
        `values`: values for the statement's named parameters (`bindparam("name")` without a value)."""
        complete = lambda s: s.with_only_columns(*table.c)  # noqa: E731
        return self._run(conn, skeleton, complete, ("rows", table.name, id(table)), shape, values)

    def scalar(
        self, conn: Connection, statement: sa.Select, *, shape: Any = None, values: dict[str, Any] | None = None
    ) -> Any:
        """The single value of a statement such as a capped count."""
        found = self._run(conn, statement, lambda s: s, ("scalar",), shape, values)
        return found.rows[0][0]

    # internals --------------------------------------------------------------------------------
    def _run(
        self,
        conn: Connection,
        statement: sa.Select,
        complete: Callable[[sa.Select], sa.Select],
        kind: tuple,
        shape: Any = None,
        values: dict[str, Any] | None = None,
    ) -> Fetched:
        """Find the statement's template by its structure, then bind this call's values.

        SQLAlchemy's cache key describes the structure exactly, but it is a deep tuple that a dict
        lookup hashes and compares in full on every call (about a third of a page's Python time). A
        caller that knows what shapes its SQL can pass a small `shape` instead; the values are still
        taken from the cache key's bind parameters, in the statement's own order.
        """
        cache_key = statement._generate_cache_key()
        if cache_key is None:  # a construct SQLAlchemy itself will not cache
            return self._uncached(conn, complete(statement), values)
        binds = cache_key.bindparams
        lengths = tuple(len(b.effective_value) for b in binds if b.expanding)
        key = (kind, shape, lengths, len(binds)) if shape is not None else (kind, cache_key.key, lengths)
        template = self._template(key, statement, complete, binds)
        if template is None:
            return self._uncached(conn, complete(statement), values)
        return self._execute(conn, template.sql, self._params(template, binds, values))

    def _template(
        self, key: Any, statement: sa.Select, complete: Callable[[sa.Select], sa.Select], binds: Sequence[BindParameter]
    ) -> _Template | None:
        """The key is a deep tuple whose hash is not cached: look it up once per call."""
        found = self._templates.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        template = self._compile(complete(statement), binds)
        with self._lock:
            if len(self._templates) >= MAX_TEMPLATES:
                self._templates.clear()  # shapes in use come back within a few calls
            self._templates[key] = template
        return template

    def _compile(self, statement: sa.Select, binds: Sequence[BindParameter]) -> _Template | None:
        """Compile with IN lists rendered at their current length; None when a value can't be placed."""
        compiled = statement.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        positions = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        known = set(positions) if positions is not None else set(compiled.construct_params())
        slots = []
        for bind in binds:
            name = compiled.bind_names.get(bind)
            if name is None:
                return None
            names = (
                tuple(f"{name}_{i}" for i in range(1, len(bind.effective_value) + 1)) if bind.expanding else (name,)
            )
            if not set(names) <= known:
                return None
            processor = bind.type.dialect_impl(self.dialect).bind_processor(self.dialect)
            slots.append(_Slot(names, bind.expanding, processor))
        placed = {n for s in slots for n in s.names}
        fixed = {}
        for name, value in compiled.construct_params().items():
            if name not in placed:
                processor = self._processor(compiled, name)
                fixed[name] = processor(value) if processor else value
        return _Template(compiled.string, tuple(slots), fixed, positions)

    def _processor(self, compiled: Any, name: str) -> Callable[[Any], Any] | None:
        """The bind processor of a compiled parameter; an expanded IN item `x_1_3` uses the list's `x_1`."""
        bind = compiled.binds.get(name)
        if bind is None:
            bind = compiled.binds.get(name.rsplit("_", 1)[0])
        return bind.type.dialect_impl(self.dialect).bind_processor(self.dialect) if bind is not None else None

    @staticmethod
    def _params(template: _Template, binds: Sequence[BindParameter], named: dict[str, Any] | None) -> Any:
        values = dict(template.fixed)
        for slot, bind in zip(template.slots, binds, strict=True):
            process = slot.process
            if slot.expanding:
                for name, item in zip(slot.names, bind.effective_value, strict=True):
                    values[name] = process(item) if process else item
            else:
                value = named[bind.key] if named and bind.key in named else bind.effective_value
                values[slot.names[0]] = process(value) if process else value
        if template.order is None:
            return values
        return tuple(values[n] for n in template.order)

    def _uncached(self, conn: Connection, statement: sa.Select, named: dict[str, Any] | None = None) -> Fetched:
        compiled = statement.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        params = {}
        for name, value in compiled.construct_params(params=named or None).items():
            processor = self._processor(compiled, name)
            params[name] = processor(value) if processor else value
        if compiled.positiontup is not None:
            return self._execute(conn, compiled.string, tuple(params[n] for n in compiled.positiontup))
        return self._execute(conn, compiled.string, params)

    @staticmethod
    def _execute(conn: Connection, sql: str, params: Any) -> Fetched:
        """On the connection's own DBAPI cursor, inside the caller's transaction."""
        cursor = conn.connection.driver_connection.cursor()
        events = conn.dispatch  # engine listeners (echo tools, the bench's plan capture) still see the SQL
        try:
            if events.before_cursor_execute:
                for listener in events.before_cursor_execute:
                    listener(conn, cursor, sql, params, None, False)
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            if events.after_cursor_execute:
                for listener in events.after_cursor_execute:
                    listener(conn, cursor, sql, params, None, False)
            return Fetched(rows, tuple(d[1] for d in cursor.description or ()))
        finally:
            cursor.close()
