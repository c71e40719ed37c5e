"""Record actions and inbound events over REST (PL-08, PL-09).

* ``GET  /api/v1/records/{entity}/{id}/actions`` the actions of the record's current state for this user,
  each with ``enabled`` and, when disabled, the ``reason`` (role, guard)
* ``POST /api/v1/records/{entity}/{id}/actions/{action}`` {"input": {...form fields}, "version": n}
  performs it: 200 with the record; 403 role refused; 409 not possible in this state or guard false;
  422 input form errors. A background action (``"background": true`` in its blueprint) is checked and queued:
  202 with the record as it is and ``action_queued: {"action", "job"}``; a notification tells the outcome
* ``POST /api/v1/records/{entity}/actions/{action}/bulk`` {"ids": [...], "input": {...}} runs the action on
  each record (its own transaction, guard and permissions): 200 with ``done``, ``queued`` (background actions),
  ``refused`` and per record ``{"id", "status": "done"|"queued"|"refused", "reason", "code"}``; 400/404/422
  when the request itself is wrong
* ``POST /api/v1/events/{name}`` {...payload} triggers the rules listening to the event (signed in or API token)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from runtime.api.deps import context, current_user, json_body, record_id, tessera
from runtime.automation.states.background import QUEUED_KEY
from runtime.automation.states.bulk import MAX_BULK, bulk_ids, perform_bulk, summary
from runtime.automation.states.service import available, machine_for, perform, state_label
from runtime.errors import BadRequest, NotFound

router = APIRouter(prefix="/api/v1", tags=["actions"])
PERFORM_BODY = {
    "type": "object",
    "properties": {
        "input": {"type": "object", "description": "values of the action's input form"},
        "version": {"type": "integer", "description": "the record version you saw (lost-update guard)"},
    },
}


@router.get("/records/{entity}/{rid}/actions")
def list_actions(entity: str, rid: str, request: Request) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    ctx = context(request, user)
    record = app.records.get(entity, record_id(rid), ctx)
    machine = machine_for(app, entity)
    state = record.get(machine["field"]) if machine else None
    return {
        "state": state,
        "state_label": state_label(machine, state, ctx.lang) if machine else None,
        "actions": [a.as_dict() for a in available(app, entity, record, ctx)],
    }


@router.post(
    "/records/{entity}/{rid}/actions/{action}",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": PERFORM_BODY}}}},
)
async def perform_action(entity: str, rid: str, action: str, request: Request, response: Response) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    ident = record_id(rid)
    body = await json_body(request) if (await request.body()).strip() else {}
    if not isinstance(body, dict):
        raise BadRequest('the request body must be a JSON object: {"input": {...}, "version": n}')
    version = body.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise BadRequest("'version' must be an integer")
    done = perform(app, entity, ident, action, body.get("input"), context(request, user), expected_version=version)
    if QUEUED_KEY in done:
        response.status_code = 202
    return done


BULK_BODY = {
    "type": "object",
    "required": ["ids"],
    "properties": {
        "ids": {"type": "array", "items": {"type": "integer"}, "maxItems": MAX_BULK},
        "input": {"type": "object", "description": "values of the action's input form, the same for every record"},
    },
}


@router.post(
    "/records/{entity}/actions/{action}/bulk",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": BULK_BODY}}}},
)
async def perform_bulk_action(entity: str, action: str, request: Request) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadRequest('the request body must be a JSON object: {"ids": [...], "input": {...}}')
    app.registry.entity(entity)  # 404 for an unknown entity
    ids = bulk_ids(body.get("ids"))
    outcomes = perform_bulk(app, entity, ids, action, body.get("input"), context(request, user))
    return {"entity": entity, "action": action, **summary(outcomes)}


@router.post("/events/{name}", status_code=202)
async def post_event(name: str, request: Request) -> dict[str, Any]:
    current_user(request)
    app = tessera(request)
    if name not in app.automation.events():
        raise NotFound(f"no rule listens to the event '{name[:80]}'")
    body = await json_body(request) if (await request.body()).strip() else {}
    if not isinstance(body, dict):
        raise BadRequest("the event payload must be a JSON object")
    key = request.headers.get("idempotency-key")
    if key is not None and (not key or len(key) > 100):
        raise BadRequest("Idempotency-Key must be 1 to 100 characters")
    return {"event": name, "queued": app.automation.emit(name, body, key=key)}
