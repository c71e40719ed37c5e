"""The print channel: one record, or one page of a list, for a printout (PL-20).

Printing needs the role's `print` action on the entity; the data itself is read through the
permissioned records service, so a printout shows exactly what the detail or list page shows
(same scope, same masking). Each printout leaves an operation-log entry.
"""

from __future__ import annotations

from typing import Any

from runtime.blueprints.model import View
from runtime.exports.journal import Actor, log_output, query_detail
from runtime.records.context import Context
from runtime.records.query import ListQuery, Page
from runtime.services import Tessera


def print_record(
    tessera: Tessera, entity_id: str, record_id: int, ctx: Context, actor: Actor | None = None
) -> dict[str, Any]:
    """The record as the context may read it, after checking the print right; logged as kind 'print'."""
    entity = tessera.registry.entity(entity_id)
    tessera.permissions.require(ctx, entity, "print")
    record = tessera.records.get(entity.id, record_id, ctx)
    log_output(tessera, "print", ctx, actor, {"entity": entity.id, "record_id": record_id, "what": "record"})
    return record


def print_list(
    tessera: Tessera,
    entity_id: str,
    query: ListQuery,
    ctx: Context,
    actor: Actor | None = None,
    view: View | None = None,
) -> Page:
    """One page of a list (the page the user is looking at) for printing; logged as kind 'print'."""
    entity = tessera.registry.entity(entity_id)
    tessera.permissions.require(ctx, entity, "print")
    page = tessera.records.list(entity.id, query, ctx)
    detail = {"entity": entity.id, "view": view.id if view else None, "what": "list", "rows": len(page.items)}
    log_output(tessera, "print", ctx, actor, {**detail, **query_detail(entity, query)})
    return page
