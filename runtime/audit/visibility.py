"""What a reader may see of the audit trail: one set of rules for the API and the web pages.

* Sensitive fields are stored as ``{"changed": true}`` plus ciphertext; readers only ever get the
  marker (``sealed_out``).
* A record's history is for whoever may read the record, and shows its values as a read of the
  record would: masked or left out by the read transforms (field permissions), see ``visible``.
* The administrator's audit search shows every entry with sensitive values sealed.

Both lists carry ``actor`` ({"id", "username", "display_name"}) so timelines show names without
one lookup per entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from runtime.audit.queries import AuditFilter, AuditPage, search, timeline
from runtime.audit.trail import SENSITIVE_MARKER_KEY
from runtime.blueprints.model import Entity
from runtime.records.context import Context
from runtime.storage.database import Database
from runtime.storage.platform_tables import users as users_table

if TYPE_CHECKING:  # runtime.services imports runtime.audit: a type-only import keeps that one-way
    from runtime.services import Tessera

SEALED = {SENSITIVE_MARKER_KEY: True}


def is_sealed(value: Any) -> bool:
    """A sensitive field's entry (marker, possibly with ciphertext) rather than a [before, after] pair."""
    return isinstance(value, dict) and SENSITIVE_MARKER_KEY in value


def sealed_out(item: dict[str, Any]) -> dict[str, Any]:
    """Sensitive fields show as {"changed": true}: their ciphertext stays in the database."""
    changes = item["changes"]
    if any(is_sealed(v) for v in changes.values()):
        changes = {k: (dict(SEALED) if is_sealed(v) else v) for k, v in changes.items()}
        item = {**item, "changes": changes}
    return item


def visible(tessera: Tessera, entity: Entity, ctx: Context, item: dict[str, Any]) -> dict[str, Any]:
    """Pass the old and new values through the read transforms (field masking), as a record read would.

    A field the reader may not see at all is left out, sealed sensitive fields included (their
    marker would still tell that the hidden field changed).
    """
    item = sealed_out(item)
    hooks = tessera.hooks  # every read transform, however registered (no shortcut on one hook list)
    plain = {k: v for k, v in item["changes"].items() if isinstance(v, list) and len(v) == 2}
    sealed = [k for k, v in item["changes"].items() if is_sealed(v)]
    if not plain and not sealed:
        return item
    base = {"id": item["record_id"], **{k: None for k in sealed}}
    before = hooks.transform(entity, ctx, {**base, **{k: v[0] for k, v in plain.items()}})
    after = hooks.transform(entity, ctx, {**base, **{k: v[1] for k, v in plain.items()}})
    changes = {}
    for key, value in item["changes"].items():
        if key in plain:
            if key in before and key in after:
                changes[key] = [before[key], after[key]]
        elif key in sealed:
            if key in before and key in after:
                changes[key] = value
        else:
            changes[key] = value
    return {**item, "changes": changes}


def with_actors(db: Database, items: list[dict[str, Any]], key: str = "actor_id") -> list[dict[str, Any]]:
    """Add {"actor": {"id", "username", "display_name"}} (or None) to each item, in one query."""
    ids = {i[key] for i in items if i.get(key) is not None}
    names: dict[int, dict[str, Any]] = {}
    if ids:
        stmt = sa.select(users_table.c.id, users_table.c.username, users_table.c.display_name).where(
            users_table.c.id.in_(ids)
        )
        with db.read() as conn:
            names = {
                r.id: {"id": r.id, "username": r.username, "display_name": r.display_name} for r in conn.execute(stmt)
            }
    for item in items:
        item["actor"] = names.get(item.get(key)) if item.get(key) is not None else None
    return items


def record_history(
    tessera: Tessera, entity_id: str, record_id: int, ctx: Context, *, limit: int = 50, before_id: int | None = None
) -> AuditPage:
    """A record's changes, newest first, for someone who may read the record.

    The record is read first, so a reader outside its data scope gets the same 404 (or 403) as
    reading the record, and a deleted record's trail is left to the administrator's viewer.
    """
    tessera.records.get(entity_id, record_id, ctx)
    page = timeline(tessera.db, entity_id, record_id, limit=limit, before_id=before_id)
    entity = tessera.registry.entity(entity_id)
    items = [visible(tessera, entity, ctx, item) for item in page.items]
    return AuditPage(with_actors(tessera.db, items), page.next_before_id)


def admin_search(
    db: Database, filters: AuditFilter | None = None, *, limit: int = 50, before_id: int | None = None
) -> AuditPage:
    """The administrator's audit viewer: every entry, sensitive values sealed, with actor names."""
    page = search(db, filters, limit=limit, before_id=before_id)
    items = [sealed_out(item) for item in page.items]
    return AuditPage(with_actors(db, items), page.next_before_id)
