"""Permissions enforced inside the records service, so that no channel can bypass them.

Hooks (registered on the records service's Hooks by runtime.services):
- read_scope: ANDs the subject's read scope into every get, list and title lookup; an entity the
  subject may not read matches nothing. Records outside the scope are invisible (404, absent from lists).
- read_transform: masks or leaves out fields the subject may not read in full, for every record returned.
- before_write: create/update/delete need the action; update and delete also need the record inside the
  action's scope; fields the subject may not write cannot be changed (per-field error).

PermissionedRecords (the records service runtime.services builds) adds what hooks cannot see: reading an
entity without the read right is a 403, and list filters, sort and search may not use fields the
subject cannot read in full (they would reveal the value).

Rights are the union over the subject's roles (incl. inherited). Administrators and in-process
callers without a user (system, rules, workflows) have full rights; see subjects.py.
Other channels (export, print, analyse, import) ask PermissionService.can / require.
"""

from __future__ import annotations

import contextvars
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from runtime.blueprints.model import SYSTEM_FIELDS, Entity, Field
from runtime.clock import Clock, SystemClock
from runtime.errors import Forbidden, RecordInvalid
from runtime.fields.types import field_type
from runtime.permissions.masking import mask_value
from runtime.permissions.model import FULL, HIDDEN, EntityAccess, entity_access
from runtime.permissions.scopes import Ownership, scope_clause
from runtime.permissions.subjects import Subject, SubjectLoader
from runtime.records import logic
from runtime.records.context import Context
from runtime.records.hooks import Hooks, WriteEvent
from runtime.records.query import ListQuery, Page
from runtime.records.service import RecordsService
from runtime.registry import Registry
from runtime.storage.database import Database
from runtime.validation.errors import FieldError

MESSAGES = {
    "field": {"zh": "无权修改此字段", "en": "you may not change this field"},
    "masked": {
        "zh": "不能保存脱敏显示的值；请填写新值，或不提交此字段以保留原值",
        "en": "the masked value cannot be saved; send a new value, or leave the field out to keep it",
    },
}
VERBS = {
    "create": "create",
    "read": "read",
    "update": "change",
    "delete": "delete",
    "export": "export",
    "import": "import",
    "print": "print",
    "analyse": "analyse",
}


SET_BY_ACTION: contextvars.ContextVar[tuple[str, int, frozenset[str]] | None] = contextvars.ContextVar(
    "tessera_set_by_action", default=None
)
"""(entity, record id, fields) a state-machine action is writing on its own account: the state field and the
transition's ``set`` values. Whoever may perform the action may have them written, even where the role's field
rights would not let that person type them in (the officer who completes a call moves it to "done"); the values
the person enters through the action's form are checked as usual (runtime/automation/states/service.py)."""


class PermissionService:
    """Answers "may this context do X?" and provides the records-service hooks."""

    def __init__(self, db: Database, registry: Registry, *, clock: Clock | None = None):
        self.db = db
        self.registry = registry
        self.clock = clock or SystemClock()
        self.subjects = SubjectLoader(db, registry)
        self._access: dict[tuple, EntityAccess] = {}
        self._lock = threading.Lock()
        self.read_wideners: list[Callable[[Entity, Subject, sa.Table], sa.ColumnElement[bool] | None]] = []
        """Extra rows a subject who may read the entity at all also sees, ORed into the read scope: the
        records waiting in a pool (公海) are visible to those who may claim them (runtime/automation/pools)."""

    def install(self, hooks: Hooks) -> None:
        hooks.before_write.insert(0, self.before_write)
        hooks.read_scope.append(self.read_scope)
        hooks.read_transformers.append(self.record_transformer)

    # questions ----------------------------------------------------------------------------------
    def subject(self, ctx: Context) -> Subject:
        return self.subjects.subject(ctx)

    def access(self, ctx: Context, entity: Entity | str) -> EntityAccess | None:
        """The subject's rights on an entity; None means unrestricted (administrator or platform)."""
        return self._entity_access(self.subject(ctx), _entity(self.registry, entity))

    def _entity_access(self, subject: Subject, entity: Entity) -> EntityAccess | None:
        if subject.unrestricted:
            return None
        key = (subject.roles, entity.id, self.registry.generation)
        found = self._access.get(key)
        if found is None:
            roles = self.registry.roles
            grants = [g for rid in sorted(subject.roles) if rid in roles for g in roles[rid].grants]
            found = entity_access(grants if subject.active else [], entity)
            with self._lock:
                if len(self._access) > 10_000:
                    self._access.clear()
                self._access[key] = found
        return found

    def can(self, ctx: Context, entity: Entity | str, action: str) -> bool:
        access = self.access(ctx, entity)
        return access is None or access.allows(action)

    def require(self, ctx: Context, entity: Entity | str, action: str) -> None:
        """Raise Forbidden unless the context may perform the action on the entity (export, print, ...)."""
        ent = _entity(self.registry, entity)
        if not self.can(ctx, ent, action):
            raise Forbidden(f"you may not {VERBS.get(action, action)} {ent.label_in('en')} ({ent.id}) records")

    def has_right(self, ctx: Context, right: str) -> bool:
        """A global right such as 'admin' (manage people) or 'designer' (edit blueprints)."""
        subject = self.subject(ctx)
        return subject.unrestricted or right in subject.rights

    def require_right(self, ctx: Context, right: str) -> None:
        if not self.has_right(ctx, right):
            raise Forbidden(f"this needs the '{right}' right")

    def scope(self, ctx: Context, entity: Entity | str, action: str, table: sa.Table) -> sa.ColumnElement[bool]:
        """The rows of `table` the context may act on (for export/report/print queries outside the service)."""
        ent = _entity(self.registry, entity)
        subject = self.subject(ctx)
        access = self._entity_access(subject, ent)
        if access is None:
            return sa.true()
        clause = scope_clause(access.scope(action), subject, self.subjects.tree(), table, Ownership.of(ent))
        return sa.true() if clause is None else clause

    def field_levels(self, ctx: Context, entity: Entity | str) -> dict[str, str]:
        """field -> full / masked / hidden, for pages and exports that choose columns."""
        ent = _entity(self.registry, entity)
        access = self.access(ctx, ent)
        return {f.name: FULL if access is None else access.level(f.name) for f in ent.fields}

    def writable_fields(self, ctx: Context, entity: Entity | str, action: str = "update") -> set[str]:
        ent = _entity(self.registry, entity)
        access = self.access(ctx, ent)
        return {f.name for f in ent.fields} if access is None else set(access.writable.get(action, ()))

    def mask(self, ctx: Context, entity: Entity | str, record: dict[str, Any]) -> dict[str, Any]:
        """Mask or drop the fields of a record the context may not read in full (the read_transform hook)."""
        ent = _entity(self.registry, entity)
        return self.read_transform(ent, ctx, record)

    # hooks --------------------------------------------------------------------------------------
    def read_scope(self, entity: Entity, ctx: Context, table: sa.Table) -> sa.ColumnElement[bool] | None:
        subject = self.subject(ctx)
        access = self._entity_access(subject, entity)
        if access is None:
            return None
        clause = scope_clause(access.scope("read"), subject, self.subjects.tree(), table, Ownership.of(entity))
        if clause is None or not access.allows("read") or not self.read_wideners:
            return clause
        wider = [w for w in (widen(entity, subject, table) for widen in self.read_wideners) if w is not None]
        return sa.or_(clause, *wider) if wider else clause

    def read_transform(self, entity: Entity, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        transform = self.record_transformer(entity, ctx)
        return record if transform is None else transform(record)

    def record_transformer(self, entity: Entity, ctx: Context) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
        """Masking for this context and entity, decided once per page (the read_transformers hook)."""
        access = self.access(ctx, entity)
        if access is None or not access.restricted_fields:
            return None
        restricted = [(name, level, entity.field(name)) for name, level in access.restricted_fields.items()]

        def mask(record: dict[str, Any]) -> dict[str, Any]:
            out = dict(record)
            for name, level, f in restricted:
                if name not in out:
                    continue
                if level == HIDDEN:
                    del out[name]
                else:
                    out[name] = mask_value(f, out[name]) if f is not None else None
            return out

        return mask

    def before_write(self, event: WriteEvent) -> None:
        subject = self.subject(event.ctx)
        access = self._entity_access(subject, event.entity)
        if access is None:
            return
        entity, action = event.entity, event.action
        if not access.allows(action):
            raise Forbidden(f"you may not {VERBS.get(action, action)} {entity.label_in('en')} ({entity.id}) records")
        if action in ("update", "delete") and event.record_id is not None:
            table = self.registry.tables[entity.id].main
            clause = scope_clause(access.scope(action), subject, self.subjects.tree(), table, Ownership.of(entity))
            q = sa.select(table.c.id).where(table.c.id == event.record_id)
            if clause is not None and event.conn.execute(q.where(clause)).first() is None:
                raise Forbidden(f"you may not {VERBS[action]} this {entity.label_in('en')} ({entity.id}) record")
        if action in ("create", "update"):
            self._check_fields(event, access)

    def _check_fields(self, event: WriteEvent, access: EntityAccess) -> None:
        entity, after = event.entity, event.after or {}
        creating = event.action == "create"
        baseline = logic.apply_defaults(entity, {}, self.clock) if creating else (event.before or {})
        writable = access.writable.get(event.action, frozenset())
        by_action = SET_BY_ACTION.get()
        if by_action is not None and by_action[:2] == (entity.id, event.record_id):
            writable = writable | by_action[2]
        lang = "zh" if event.ctx.lang == "zh" else "en"
        errors: list[FieldError] = []
        for f in entity.fields:
            if f.is_system_filled or f.name not in after:
                continue
            old, new = baseline.get(f.name), after[f.name]
            if _same(f, old, new):
                continue
            if f.name not in writable:
                errors.append(FieldError(f.name, MESSAGES["field"][lang], "forbidden_field"))
            elif access.level(f.name) != FULL and old is not None and _same(f, mask_value(f, old), new):
                errors.append(FieldError(f.name, MESSAGES["masked"][lang], "masked_value"))
        if errors:
            raise RecordInvalid(errors)

    def check_query(self, entity: Entity, ctx: Context, query: ListQuery) -> ListQuery:
        """Refuse list queries that would reveal fields the context may not read in full.

        A filter or sort on a masked or hidden field is refused (403); a text search leaves those
        fields out, and is refused when no searchable field is left.
        """
        access = self.access(ctx, entity)
        if access is None:
            return query
        if not access.allows("read"):
            raise Forbidden(f"you may not read {entity.label_in('en')} ({entity.id}) records")
        for flt in query.filters:
            if flt.field not in SYSTEM_FIELDS and access.level(flt.field) != FULL:
                raise Forbidden(f"you may not filter on the field '{flt.field}' of {entity.id}")
        for name, _ in query.sort:
            if name not in SYSTEM_FIELDS and access.level(name) != FULL:
                raise Forbidden(f"you may not sort by the field '{name}' of {entity.id}")
        if query.search:
            names = query.search_fields or [entity.title_field]
            allowed = [n for n in names if access.level(n) == FULL]
            if not allowed:
                raise Forbidden(f"you may not search {entity.id} records by " + ", ".join(names))
            if allowed != names:
                query = dataclasses.replace(query, search_fields=allowed)
        return query


class PermissionedRecords(RecordsService):
    """The records service with the checks read_scope cannot express (see the module docstring)."""

    def __init__(self, *args: Any, permissions: PermissionService, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.permissions = permissions

    def get(self, entity_id: str, record_id: int, ctx: Context) -> dict[str, Any]:
        entity = self.registry.entity(entity_id)
        self.permissions.require(ctx, entity, "read")
        return super().get(entity_id, record_id, ctx)

    def list(self, entity_id: str, query: ListQuery, ctx: Context) -> Page:
        entity = self.registry.entity(entity_id)
        query = self.permissions.check_query(entity, ctx, query)
        return super().list(entity_id, query, ctx)

    def update(
        self, entity_id: str, record_id: int, data: dict[str, Any], ctx: Context, **kwargs: Any
    ) -> dict[str, Any]:
        """A masked value sent back unchanged (a form or client returning what it was shown) keeps the stored
        value instead of overwriting it with the masked text."""
        entity = self.registry.entity(entity_id)
        access = self.permissions.access(ctx, entity)
        if access is not None and isinstance(data, dict):
            masked = [n for n, lv in access.restricted_fields.items() if lv != HIDDEN and n in data]
            if masked:
                with self.db.read() as conn:
                    current = self._load(conn, entity, record_id, ctx)
                data = dict(data)
                for name in masked:
                    f = entity.field(name)
                    if f is not None and current.get(name) is not None and data[name] == mask_value(f, current[name]):
                        del data[name]
        return super().update(entity_id, record_id, data, ctx, **kwargs)


def _entity(registry: Registry, entity: Entity | str) -> Entity:
    return registry.entity(entity) if isinstance(entity, str) else entity


def _normal(f: Field, value: Any) -> Any:
    if f.type == "child_table":
        rows = value if isinstance(value, list) else []
        return [
            {c.name: _normal(c, row.get(c.name)) for c in f.children} if isinstance(row, dict) else row for row in rows
        ]
    if value is None or value == "" or value == [] or value == {}:
        return None
    try:
        return field_type(f).to_db(value, f)
    except (ValueError, TypeError, ArithmeticError):
        return value


def _same(f: Field, a: Any, b: Any) -> bool:
    return _normal(f, a) == _normal(f, b)
