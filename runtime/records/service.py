"""The records service: create, read, update, delete and list for every entity and every channel.

Each write runs in one transaction: clean the input, run before-write hooks (permissions),
validate (schema, conditions, cross-field rules, computed fields, unique values, links), write
the row and its child rows, then run after-write hooks (audit, rules). A failure anywhere rolls
everything back, so no channel can leave a half-written change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.blueprints.model import SYSTEM_FIELDS, Entity, Form
from runtime.clock import Clock, SystemClock
from runtime.errors import BadRequest, Conflict, Forbidden, NotFound, RecordInvalid, StaleVersion
from runtime.fields.storage import is_encrypted
from runtime.records import logic
from runtime.records.autonumber import next_number
from runtime.records.checks import link_errors, unique_errors
from runtime.records.context import Context
from runtime.records.convert import python_values, record_to_json, row_to_json, to_db_values
from runtime.records.filter_templates import FilterTemplates
from runtime.records.hooks import Hooks, WriteEvent
from runtime.records.list_reader import RawRowReader
from runtime.records.names import department_names, user_names
from runtime.records.paging import Pager
from runtime.records.query import (
    NON_NULL_OPS,
    Filter,
    ListQuery,
    Page,
    decode_cursor,
    encode_cursor,
    full_sort,
    is_simple_sort,
    refuse_encrypted_sort,
    search_clause,
    tighten_for_cursor,
)
from runtime.registry import Registry
from runtime.security.crypto import FieldCipher, TableCrypt
from runtime.storage.database import Database
from runtime.validation.errors import FieldError

_JOINED: ContextVar[Connection | None] = ContextVar("tessera_records_joined", default=None)


@contextmanager
def joined_transaction(conn: Connection) -> Iterator[None]:
    """Inside this block every records-service call of this thread/task uses ``conn`` and its open transaction
    instead of opening its own, so a caller (the workflow host) commits its state and the record changes it
    causes together, or rolls both back."""
    token = _JOINED.set(conn)
    try:
        yield
    finally:
        _JOINED.reset(token)


READ_ONLY_MSG = {"zh": "只读字段，不能修改", "en": "is read-only"}
NUL_MSG = {"zh": "包含无法保存的空字符（\\0）", "en": "contains a NUL character (\\0), which cannot be stored"}


def _has_nul(value: Any) -> bool:
    """PostgreSQL cannot store NUL in text or JSON; refuse it as bad input rather than fail on write."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


@dataclass
class FormState:
    """What a form looks like for the values typed so far (server-side re-evaluation)."""

    states: dict[str, logic.FieldState]
    computed: dict[str, Any]
    errors: list[FieldError]


class RecordsService:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        *,
        clock: Clock | None = None,
        hooks: Hooks | None = None,
        cipher: FieldCipher | None = None,
    ):
        self.db = db
        self.registry = registry
        self.clock = clock or SystemClock()
        self.hooks = hooks or Hooks()
        self.cipher = cipher
        self._pager = Pager(db.engine.dialect)
        self._filters = FilterTemplates(db.dialect)
        self._readers: dict[tuple[str, int], tuple[sa.Table, RawRowReader]] = {}
        """Seals and opens sensitive fields (runtime.security); required once an entity has one."""

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """The caller's joined transaction (see joined_transaction), else a new write transaction."""
        outer = _JOINED.get()
        if outer is not None:
            with outer.begin_nested():
                yield outer
        else:
            with self.db.write() as conn:
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        outer = _JOINED.get()
        if outer is not None:
            yield outer
        else:
            with self.db.read() as conn:
                yield conn

    def _crypt(self, table: str) -> TableCrypt | None:
        return self.cipher.for_table(table) if self.cipher is not None else None

    # reading --------------------------------------------------------------------------------------
    def get(self, entity_id: str, record_id: int, ctx: Context) -> dict[str, Any]:
        entity = self.registry.entity(entity_id)
        with self._read() as conn:
            record = self._load(conn, entity, record_id, ctx)
        return self.hooks.transform(entity, ctx, record)

    def list(self, entity_id: str, query: ListQuery, ctx: Context) -> Page:
        entity = self.registry.entity(entity_id)
        table = self.registry.tables[entity_id].main
        refuse_encrypted_sort(entity, query.sort)
        sort = full_sort(query.sort)
        values = decode_cursor(query.cursor, entity, sort) if query.cursor else None
        page_filters = query.filters
        if values is not None and is_simple_sort(sort):
            page_filters = tighten_for_cursor(query.filters, sort, values)
        page_where, shape, named = self._where_and_shape(entity, table, page_filters, query, ctx)
        with self._read() as conn:  # inside a joined transaction: see its own writes (runtime/his merges)
            never_null = any(f.field == sort[0][0] and f.op in NON_NULL_OPS for f in query.filters)
            page = self._pager.page(
                conn, table, page_where, sort, values, query.limit, never_null, shape=shape, named=named
            )
            rows, type_codes = page.rows, page.type_codes
            if self._wants_count(query):  # the count needs the filters as asked, not tightened by the cursor
                where = page_where
                if page_filters is not query.filters:
                    where, shape, named = self._where_and_shape(entity, table, query.filters, query, ctx)
                total, exact = self._pager.count(conn, table, where, query, shape, named)
            else:
                total, exact = None, False
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        crypt = self._crypt(table.name)
        reader = self._reader(entity, table, type_codes)
        items = [reader.item(r, crypt) for r in rows]
        next_cursor = None
        if more and rows:  # from the stored values: JSON forms may be rounded (datetimes to the second)
            last = rows[-1]
            next_cursor = encode_cursor([reader.cursor_value(last, n) for n, _ in sort])
        transform = self.hooks.transformer(entity, ctx)
        if transform is not None:
            items = [transform(item) for item in items]
        return Page(items, next_cursor, total, exact, query.limit)

    def _reader(self, entity: Entity, table: sa.Table, type_codes: tuple) -> RawRowReader:
        """One row plan per entity and table object (a redeploy makes new ones)."""
        key = (entity.id, id(entity))
        found = self._readers.get(key)
        if found is None or found[0] is not table:
            if len(self._readers) > 1000:
                self._readers.clear()
            found = (table, RawRowReader(entity, table, self.db.engine.dialect, type_codes))
            self._readers[key] = found
        return found[1]

    def titles(self, entity_id: str, ids: list[int], ctx: Context, *, _depth: int = 0) -> dict[int, str]:
        """Display titles for reference values (list cells, detail pages, pickers). A title field that is
        itself a reference, a user or a department shows that name (runtime/records/titles.py), following at
        most two references (an appointment titled by its patient, a reminder titled by its appointment)."""
        if not ids:
            return {}
        entity = self.registry.entity(entity_id)
        table = self.registry.tables[entity_id].main
        title = table.c[entity.title_field]
        q = sa.select(table.c.id, title).where(table.c.id.in_(set(ids)))
        scope = self.hooks.scope_clause(entity, ctx, table)
        if scope is not None:
            q = q.where(scope)
        with self.db.read() as conn:
            found = {r.id: r[1] for r in conn.execute(q)}
        f = entity.field(entity.title_field)
        if f is not None and is_encrypted(f):  # an encrypted title is opened like any other read
            crypt = self._crypt(table.name)
            found = {rid: row_to_json([f], {"id": rid, f.name: v}, crypt)[f.name] for rid, v in found.items()}
        if f is not None and f.type in ("reference", "user", "department") and _depth < 2:
            found = self._named_titles(f, found, ctx, _depth)
        return {rid: str(v) if v not in (None, "") else f"#{rid}" for rid, v in found.items()}

    def _named_titles(self, f: Any, found: dict[int, Any], ctx: Context, depth: int) -> dict[int, Any]:
        """Title values that are ids, replaced by what they name (see ``titles``)."""
        ids = {v for v in found.values() if isinstance(v, int) and not isinstance(v, bool)}
        if f.type == "reference":
            names: dict[int, str] = self.titles(f.opt("entity"), sorted(ids), ctx, _depth=depth + 1) if ids else {}
        elif f.type == "user":
            names = user_names(self, ids)
        else:
            names = department_names(self, ids)
        return {rid: names.get(v, f"#{v}") if v in ids else v for rid, v in found.items()}

    def _where_and_shape(
        self, entity: Entity, table: sa.Table, filters: list[Filter], query: ListQuery, ctx: Context
    ) -> tuple[list[sa.ColumnElement[bool]], tuple | None, dict[str, Any]]:
        """The WHERE clauses of a list page, a small key of their SQL structure, and named values.

        Value-independent filters come as cached clauses with named parameters (filter_templates.py);
        their values are the third item. The key names everything that changes the SQL text: each
        filter's field, operator and the types/arity of its value (the value itself only where it
        picks the SQL, as `empty` does), the search fields and the scope clause's own cache key.
        None: let fetch.py key on the full statement instead.
        """
        crypt = self._crypt(table.name)
        where, named = [], {}
        for index, flt in enumerate(filters):
            clause, values = self._filters.clause(entity, table, index, flt, crypt)
            where.append(clause)
            named.update(values)
        if query.search:
            where.append(search_clause(entity, table, query.search, query.search_fields, crypt))
        scope = self.hooks.scope_clause(entity, ctx, table)
        scope_key: Any = None
        if scope is not None:
            where.append(scope)
            found = scope._generate_cache_key()
            if found is None:
                return where, None, named
            scope_key = found.key
        shape = (
            entity.id,
            id(table),
            tuple((f.field, f.op, _value_shape(f.value) if f.op != "empty" else f.value) for f in filters),
            (tuple(query.search_fields), bool(query.search)),
            scope_key,
        )
        return where, shape, named

    @staticmethod
    def _wants_count(query: ListQuery) -> bool:
        """Counted on the first page only ("auto") unless an exact count is asked for."""
        return not (query.count == "none" or (query.count == "auto" and query.cursor))

    def _load_written(
        self, conn: Connection, entity: Entity, record_id: int, ctx: Context, action: str
    ) -> dict[str, Any]:
        try:
            return self._load(conn, entity, record_id, ctx)
        except NotFound:
            raise _out_of_scope(entity, action) from None

    def _require_in_scope(self, conn: Connection, entity: Entity, record_id: int, ctx: Context, action: str) -> None:
        """A write may not put a record where its author can no longer see it (e.g. another team's owner)."""
        table = self.registry.tables[entity.id].main
        scope = self.hooks.scope_clause(entity, ctx, table)
        if scope is None:
            return
        if conn.execute(sa.select(table.c.id).where(table.c.id == record_id, scope)).first() is None:
            raise _out_of_scope(entity, action)

    def _load(
        self, conn: Connection, entity: Entity, record_id: int, ctx: Context, *, for_update: bool = False
    ) -> dict[str, Any]:
        tables = self.registry.tables[entity.id]
        q = sa.select(tables.main).where(tables.main.c.id == record_id)
        scope = self.hooks.scope_clause(entity, ctx, tables.main)
        if scope is not None:
            q = q.where(scope)
        if for_update and conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"{entity.id} #{record_id} does not exist")
        children = {
            name: list(conn.execute(sa.select(t).where(t.c.parent_id == record_id).order_by(t.c.position)))
            for name, t in tables.children.items()
        }
        return record_to_json(entity, row, children, self.cipher)

    # writing --------------------------------------------------------------------------------------
    def create(
        self, entity_id: str, data: dict[str, Any], ctx: Context, *, form_id: str | None = None
    ) -> dict[str, Any]:
        entity = self.registry.entity(entity_id)
        form = self._form(entity, form_id)
        payload = self._clean(entity, data, None, ctx)
        payload = logic.apply_defaults(entity, payload, self.clock)
        with self._write() as conn:
            self._run_before(entity, "create", ctx, conn, None, None, payload)
            computed = self._validate(conn, entity, form, payload, None, ctx)
            now = self.clock.now()
            row = {
                **to_db_values(entity.fields, payload, self._crypt(entity.table_name)),
                **computed,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "created_by": ctx.user_id,
                "updated_by": ctx.user_id,
                "owner_id": payload.get("owner_id", ctx.user_id),
                "department_id": ctx.department_id,
            }
            for f in entity.fields:
                if f.type == "autonumber":
                    row[f.name] = next_number(conn, entity.id, f.name, f.opt("format"), now)
            tables = self.registry.tables[entity.id]
            # values as parameters, not .values(**row): the compiled INSERT is cached per set of columns, so a
            # bulk load (imports, demo data) does not rebuild and re-key the statement for every record
            record_id = conn.execute(sa.insert(tables.main), row).inserted_primary_key[0]
            self._write_children(conn, entity, record_id, payload)
            if tables.children:
                record = self._load_written(conn, entity, record_id, ctx, "create")
            else:  # built from the values just written: a read-back would cost a sixth of a create
                self._require_in_scope(conn, entity, record_id, ctx, "create")
                record = record_to_json(entity, {**row, "id": record_id}, {}, self.cipher)
            self._run_after(entity, "create", ctx, conn, record_id, None, record)
        return self.hooks.transform(entity, ctx, record)

    def update(
        self,
        entity_id: str,
        record_id: int,
        data: dict[str, Any],
        ctx: Context,
        *,
        expected_version: int | None,
        form_id: str | None = None,
    ) -> dict[str, Any]:
        """Partial update: fields not sent keep their values; `expected_version` guards lost updates."""
        entity = self.registry.entity(entity_id)
        form = self._form(entity, form_id)
        with self._write() as conn:
            before = self._load(conn, entity, record_id, ctx, for_update=True)
            if expected_version is not None and expected_version != before["version"]:
                raise StaleVersion(
                    f"{entity.id} #{record_id} was changed by someone else (version {before['version']}, "
                    f"you edited version {expected_version}); reload it and apply your change again",
                    before["version"],
                )
            payload = self._clean(entity, data, before, ctx)
            merged = {**_editable(entity, before), **payload}
            self._run_before(entity, "update", ctx, conn, record_id, before, merged)
            computed = self._validate(conn, entity, form, merged, record_id, ctx)
            tables = self.registry.tables[entity.id]
            values = {
                **to_db_values(entity.fields, payload, self._crypt(entity.table_name)),
                **computed,
                "version": before["version"] + 1,
                "updated_at": self.clock.now(),
                "updated_by": ctx.user_id,
            }
            if "owner_id" in data and ctx.is_admin and ctx.roles is None:  # not a role-scoped token
                values["owner_id"] = data["owner_id"]
            result = conn.execute(
                sa.update(tables.main)
                .where(tables.main.c.id == record_id, tables.main.c.version == before["version"])
                .values(**values)
            )
            if result.rowcount != 1:
                raise StaleVersion(
                    f"{entity.id} #{record_id} was changed by someone else; reload it", before["version"] + 1
                )
            self._write_children(conn, entity, record_id, payload, replace=True)
            after = self._load_written(conn, entity, record_id, ctx, "update")
            self._run_after(entity, "update", ctx, conn, record_id, before, after)
        return self.hooks.transform(entity, ctx, after)

    def delete(self, entity_id: str, record_id: int, ctx: Context, *, expected_version: int | None = None) -> None:
        entity = self.registry.entity(entity_id)
        with self._write() as conn:
            before = self._load(conn, entity, record_id, ctx, for_update=True)
            if expected_version is not None and expected_version != before["version"]:
                raise StaleVersion(
                    f"{entity.id} #{record_id} was changed by someone else; reload it", before["version"]
                )
            self._run_before(entity, "delete", ctx, conn, record_id, before, None)
            self._refuse_if_referenced(conn, entity, record_id, ctx)
            tables = self.registry.tables[entity.id]
            for child in tables.children.values():
                conn.execute(sa.delete(child).where(child.c.parent_id == record_id))
            conn.execute(sa.delete(tables.main).where(tables.main.c.id == record_id))
            self._run_after(entity, "delete", ctx, conn, record_id, before, None)

    def form_state(
        self, entity_id: str, data: dict[str, Any], ctx: Context, *, form_id: str | None = None
    ) -> FormState:
        """Re-evaluate conditions and computed fields for a form being filled in (nothing is written)."""
        entity = self.registry.entity(entity_id)
        form = self._form(entity, form_id)
        values = python_values(entity.fields, data)
        computed, errors = logic.compute_fields(entity, values, self.clock, ctx.lang)
        states = logic.field_states(entity, form, {**values, **computed}, self.clock)
        return FormState(states, computed, errors)

    # internals ------------------------------------------------------------------------------------
    def _form(self, entity: Entity, form_id: str | None) -> Form | None:
        if form_id is None:
            return None
        form = self.registry.form(form_id)
        if form.entity != entity.id:
            raise BadRequest(f"the form '{form_id}' is not a form of '{entity.id}'")
        return form

    def _clean(
        self, entity: Entity, data: dict[str, Any], before: dict[str, Any] | None, ctx: Context
    ) -> dict[str, Any]:
        """Drop system fields; refuse changes to read-only and runtime-filled fields from people."""
        if not isinstance(data, dict):
            raise BadRequest("a record must be a JSON object")
        payload = {k: v for k, v in data.items() if k not in SYSTEM_FIELDS}
        errors = [
            FieldError(k, NUL_MSG["zh" if ctx.lang == "zh" else "en"], "nul_character")
            for k, v in payload.items()
            if _has_nul(v)
        ]
        for f in entity.fields:
            if f.name not in payload:
                continue
            current = before.get(f.name) if before else None
            if f.is_system_filled or (f.read_only and not ctx.may_write_read_only):
                if payload[f.name] != current:
                    errors.append(FieldError(f.name, READ_ONLY_MSG["zh" if ctx.lang == "zh" else "en"], "read_only"))
                del payload[f.name]
        if errors:
            raise RecordInvalid(errors)
        return payload

    def _validate(
        self,
        conn: Connection,
        entity: Entity,
        form: Form | None,
        record: dict[str, Any],
        record_id: int | None,
        ctx: Context,
    ) -> dict[str, Any]:
        """Every check on the full record; returns the computed values to store."""
        lang = ctx.lang
        errors = _with_pattern_messages(entity, self.registry.validator(entity.id).errors(record, lang), lang)
        bad = {e.field.split(".")[0] for e in errors}
        values = python_values(entity.fields, {k: v for k, v in record.items() if k not in bad})
        computed, computed_errors = logic.compute_fields(entity, values, self.clock, lang)
        values.update(computed)
        states = logic.field_states(entity, form, values, self.clock)
        errors += [e for e in logic.conditional_errors(entity, states, record, lang) if e.field not in bad]
        errors += computed_errors
        if not errors:
            errors += logic.rule_errors(entity, form, values, self.clock, lang)
        bad = {e.field.split(".")[0] for e in errors}
        table = self.registry.tables[entity.id].main
        errors += unique_errors(conn, entity, table, values, record_id, bad, lang, self._crypt(table.name))
        errors += link_errors(conn, self.registry, entity.fields, record, "", bad, lang)
        if errors:
            raise RecordInvalid(errors)
        return computed

    def _write_children(
        self, conn: Connection, entity: Entity, record_id: int, payload: dict[str, Any], replace: bool = False
    ) -> None:
        tables = self.registry.tables[entity.id]
        for f in entity.fields:
            if f.type != "child_table" or f.name not in payload:
                continue
            table = tables.children[f.name]
            empty_row = {c.name: None for c in table.columns if c.name not in ("id", "parent_id", "position")}
            crypt = self._crypt(table.name)
            if replace:
                conn.execute(sa.delete(table).where(table.c.parent_id == record_id))
            rows = [
                {"parent_id": record_id, "position": i, **empty_row, **to_db_values(f.children, row, crypt)}
                for i, row in enumerate(payload[f.name] or [])
            ]
            if rows:
                conn.execute(sa.insert(table), rows)

    def _refuse_if_referenced(self, conn: Connection, entity: Entity, record_id: int, ctx: Context) -> None:
        for other, field_name in self.registry.referencing_fields(entity.id):
            table = self.registry.tables[other.id].main
            n = conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c[field_name] == record_id)
            ).scalar_one()
            if n:
                label = other.label_in(ctx.lang)
                raise Conflict(
                    f"{entity.id} #{record_id} cannot be deleted: "
                    f"{n} {label} record(s) refer to it through '{field_name}'"
                )

    def _run_before(
        self, entity: Entity, action: str, ctx: Context, conn: Connection, rid: int | None, before: Any, after: Any
    ) -> None:
        if self.hooks.before_write:
            event = WriteEvent(entity, action, ctx, conn, rid, before, after)
            for hook in self.hooks.before_write:
                hook(event)

    def _run_after(
        self, entity: Entity, action: str, ctx: Context, conn: Connection, rid: int | None, before: Any, after: Any
    ) -> None:
        if self.hooks.after_write:
            event = WriteEvent(entity, action, ctx, conn, rid, before, after)
            for hook in self.hooks.after_write:
                hook(event)


def _editable(entity: Entity, record: dict[str, Any]) -> dict[str, Any]:
    return {f.name: record.get(f.name) for f in entity.fields if not f.is_system_filled}


def _with_pattern_messages(entity: Entity, errors: list[FieldError], lang: str) -> list[FieldError]:
    from runtime.blueprints.model import label_text

    out = []
    for e in errors:
        f = entity.field(e.field)
        if e.code == "pattern" and f is not None and f.opt("pattern_message"):
            e = FieldError(e.field, label_text(f.opt("pattern_message"), lang), e.code)
        out.append(e)
    return out


def _value_shape(value: Any) -> Any:
    """What of a bound value can change the SQL: None (IS NULL), its type (literal binds), a list's arity."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return tuple(_value_shape(v) for v in value)
    return type(value)


def _out_of_scope(entity: Entity, action: str) -> Forbidden:
    """Said plainly: the change itself is fine, but its result would be outside the author's data scope."""
    return Forbidden(
        f"this {action} would put the {entity.label_in('en')} ({entity.id}) record outside the records you may "
        "see (for example by giving it to another team); nothing was changed. Ask someone whose data scope "
        "covers both, or an administrator."
    )
