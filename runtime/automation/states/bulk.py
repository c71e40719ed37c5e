"""Bulk actions: one record action (state-machine transition) run on many records chosen together.

Each record goes through :func:`perform` on its own, so it gets the same state check, role check, guard,
permissions, input validation and effects as when the action is run on its record page, in its own
transaction: a record is either done completely or not at all, and one refusal does not undo the others.
The answer lists, per record, ``done`` or ``refused`` with the reason (in the user's language).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.automation.states.background import QUEUED_KEY
from runtime.automation.states.service import _roles, machine_for, perform, transition
from runtime.errors import BadRequest, NotFound, RecordInvalid, TesseraError
from runtime.expressions import ExpressionError
from runtime.records.context import Context
from runtime.validation.errors import FieldError

MAX_BULK = 200
"""Records per bulk request: enough for a manager's selection, small enough to answer within a request."""


@dataclass
class BulkOutcome:
    id: int
    status: str  # done | queued (a background action, checked and queued) | refused
    reason: str | None = None
    code: str | None = None
    record: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.status in ("done", "queued") and self.record is not None:
            out["version"] = self.record.get("version")
        else:
            out.update(reason=self.reason, code=self.code)
        return out


def bulk_ids(raw: Any) -> list[int]:
    """The record ids of a request, in order, without repeats; a clear error for anything else."""
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'ids' must be a non-empty list of record ids")
    if len(raw) > MAX_BULK:
        raise BadRequest(f"at most {MAX_BULK} records per bulk action ({len(raw)} given)")
    ids: list[int] = []
    for value in raw:
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise BadRequest(f"'{str(value)[:40]}' is not a record id (a positive integer)")
        if value not in ids:
            ids.append(value)
    return ids


def bulk_allowed(app: Any, entity: str, ctx: Context) -> list[dict[str, Any]]:
    """The transitions this user's roles may run (the list page's action bar); state and guard are per record."""
    machine = machine_for(app, entity)
    if machine is None:
        return []
    roles = _roles(app, ctx)
    return [t for t in machine["transitions"] if not t.get("roles") or roles is None or roles & set(t["roles"])]


def perform_bulk(
    app: Any, entity: str, ids: list[int], action: str, input: dict[str, Any] | None, ctx: Context  # noqa: A002
) -> list[BulkOutcome]:
    machine = machine_for(app, entity)
    if machine is None:
        raise NotFound(f"the entity '{entity}' has no actions (no state machine)")
    t = transition(machine, action)  # unknown action: 404 before anything runs
    if input is not None and not isinstance(input, dict):
        raise BadRequest("'input' must be a JSON object of the action form's fields")
    allowed = set(app.registry.form(t["form"]).field_names) if t.get("form") else set()
    extra = sorted(set(input or {}) - allowed)
    if extra:  # the input is asked once for all records: a wrong field is the request's error, not each record's
        where = f"the form '{t['form']}'" if t.get("form") else "this action (it has no input form)"
        raise RecordInvalid([FieldError(name, f"not a field of {where}", "unknown_field") for name in extra])
    outcomes: list[BulkOutcome] = []
    for record_id in ids:
        try:
            record = perform(app, entity, record_id, action, dict(input or {}), ctx)
        except RecordInvalid as exc:
            reason = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in exc.errors)
            outcomes.append(BulkOutcome(record_id, "refused", reason or str(exc), exc.code))
        except (TesseraError, ExpressionError) as exc:
            outcomes.append(BulkOutcome(record_id, "refused", str(exc), getattr(exc, "code", None)))
        else:
            status = "queued" if QUEUED_KEY in record else "done"  # a background action: checked and queued
            outcomes.append(BulkOutcome(record_id, status, record=record))
    return outcomes


def summary(outcomes: list[BulkOutcome]) -> dict[str, Any]:
    done = sum(1 for o in outcomes if o.status == "done")
    queued = sum(1 for o in outcomes if o.status == "queued")
    return {
        "done": done,
        "queued": queued,
        "refused": len(outcomes) - done - queued,
        "results": [o.as_dict() for o in outcomes],
    }
