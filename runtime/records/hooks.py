"""Extension points of the records service.

Permissions, audit and automation rules are not layered on top of pages: they plug in here, so
that every channel (UI, API, import, workflow, rule) passes through them. Write hooks run inside
the write transaction, so an audit entry or a rule's change commits or rolls back with the record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.blueprints.model import Entity
from runtime.records.context import Context


@dataclass
class WriteEvent:
    entity: Entity
    action: str  # create, update, delete
    ctx: Context
    conn: Connection
    record_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def changed_fields(self) -> list[str]:
        before, after = self.before or {}, self.after or {}
        return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


BeforeWrite = Callable[[WriteEvent], None]
AfterWrite = Callable[[WriteEvent], None]
ReadScope = Callable[[Entity, Context, sa.Table], sa.ColumnElement[bool] | None]
ReadTransform = Callable[[Entity, Context, dict[str, Any]], dict[str, Any]]
RecordTransform = Callable[[dict[str, Any]], dict[str, Any]]
TransformerFactory = Callable[[Entity, Context], RecordTransform | None]


@dataclass
class Hooks:
    before_write: list[BeforeWrite] = field(default_factory=list)
    """May raise Forbidden or RecordInvalid; `after` holds the values about to be stored."""
    after_write: list[AfterWrite] = field(default_factory=list)
    """Audit and rules; same transaction as the write."""
    read_scope: list[ReadScope] = field(default_factory=list)
    """Row filters ANDed into every get and list (data scopes)."""
    read_transform: list[ReadTransform] = field(default_factory=list)
    """Applied to every record returned (field masking)."""
    read_transformers: list[TransformerFactory] = field(default_factory=list)
    """Like read_transform, but asked once per page for a per-record function (None: nothing to do),
    so a 25-row list page decides "what may this user see" once, not 25 times."""

    def scope_clause(self, entity: Entity, ctx: Context, table: sa.Table) -> sa.ColumnElement[bool] | None:
        clauses = [c for c in (scope(entity, ctx, table) for scope in self.read_scope) if c is not None]
        return sa.and_(*clauses) if clauses else None

    def transform(self, entity: Entity, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        transform = self.transformer(entity, ctx)
        return record if transform is None else transform(record)

    def transformer(self, entity: Entity, ctx: Context) -> RecordTransform | None:
        """One function applying every read transform for this entity and context, or None."""
        steps: list[RecordTransform] = [
            lambda r, fn=fn: fn(entity, ctx, r)  # type: ignore[misc]
            for fn in self.read_transform
        ]
        steps += [t for t in (factory(entity, ctx) for factory in self.read_transformers) if t is not None]
        if not steps:
            return None
        if len(steps) == 1:
            return steps[0]

        def apply(record: dict[str, Any]) -> dict[str, Any]:
            for step in steps:
                record = step(record)
            return record

        return apply
