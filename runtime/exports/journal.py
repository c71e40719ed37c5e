"""Operation-log entries of the output channels (export, print): who took which data out, and how."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from runtime.blueprints.model import Entity
from runtime.fields.storage import is_encrypted
from runtime.oplog import record_operation
from runtime.records.context import Context
from runtime.records.query import ListQuery
from runtime.services import Tessera

log = logging.getLogger("tessera.exports")
HIDDEN_VALUE = "***"


@dataclass(frozen=True)
class Actor:
    """Who asked, for the operation log (the records context carries the user id only)."""

    username: str | None = None
    ip: str | None = None


def query_detail(entity: Entity, query: ListQuery) -> dict[str, Any]:
    """Filters, search and sort for the log; values of sensitive fields are not copied into it."""
    filters = []
    for flt in query.filters:
        f = entity.field(flt.field)
        secret = f is not None and (f.sensitive or is_encrypted(f))
        filters.append([flt.field, flt.op, HIDDEN_VALUE if secret else flt.value])
    return {
        "filters": filters,
        "search": query.search,
        "sort": [("-" if desc else "") + name for name, desc in query.sort],
    }


def log_output(tessera: Tessera, kind: str, ctx: Context, actor: Actor | None, detail: dict[str, Any]) -> None:
    """Write the entry in its own transaction; a failure is logged, never turned into a failed download."""
    actor = actor or Actor()
    try:
        record_operation(
            tessera.db,
            kind,
            actor_id=ctx.user_id,
            username=actor.username,
            ip=actor.ip,
            request_id=ctx.request_id,
            detail={**detail, "channel": ctx.channel},
            at=tessera.clock.now(),
        )
    except Exception:  # noqa: BLE001
        log.exception("could not write the operation log entry of a %s", kind)
