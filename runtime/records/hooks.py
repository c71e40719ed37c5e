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

    def scope_clause(self, entity: Entity, ctx: Context, table: sa.Table) -> sa.ColumnElement[bool] | None:
        clauses = [c for c in (scope(entity, ctx, table) for scope in self.read_scope) if c is not None]
        return sa.and_(*clauses) if clauses else None

    def transform(self, entity: Entity, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        for fn in self.read_transform:
            record = fn(entity, ctx, record)
        return record
