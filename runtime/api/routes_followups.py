"""Follow-up plans and work items over REST (PL-10, PL-15).

* ``GET  /api/v1/followups?entity=&record_id=`` the record's plan instances as a timeline (steps, states, history)
* ``POST /api/v1/followups/{plan_instance_id}/adjust`` {"action": "move"|"reassign"|"skip"|"add"|"stop", ...}:
  move {"step", "due_at"}, reassign {"step", "user_id"}, skip {"step"}, add {"label", "channel", "due_at",
  "user_id"?, "form"?}, stop {}
* ``GET  /api/v1/work-items`` my open work items (``status=done`` for the ones I completed)
* ``GET  /api/v1/work-items/{id}``; ``POST .../{id}/complete`` {"data": {...the form's answers}}
* ``POST /api/v1/work-items/{id}/reassign`` {"user_id"}, ``.../reschedule`` {"due_at"}, ``.../cancel``
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from runtime.api.deps import context, current_user, json_object, record_id, tessera
from runtime.automation.followups.adjust import ACTIONS, int_param, when_param
from runtime.automation.followups.views import timeline
from runtime.errors import BadRequest
from runtime.records.context import Context

router = APIRouter(prefix="/api/v1", tags=["follow-ups"])
ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


ADJUST_BODY = {
    "type": "object",
    "required": ["action"],
    "properties": {
        "action": {"enum": list(ACTIONS)},
        "step": ID,
        "due_at": {"type": "string", "format": "date-time"},
        "user_id": ID,
        "label": {"type": "string", "maxLength": 200},
        "channel": {"type": "string"},
        "form": {"type": "string"},
    },
}
COMPLETE_BODY = {"type": "object", "properties": {"data": {"type": "object", "description": "the form's answers"}}}


def _ctx(request: Request) -> Context:
    return context(request, current_user(request))


@router.get(
    "/followups",
    openapi_extra={
        "parameters": [
            {"name": "entity", "in": "query", "required": True, "schema": {"type": "string"}},
            {"name": "record_id", "in": "query", "required": True, "schema": ID},
        ]
    },
)
def record_plans(request: Request) -> dict[str, Any]:
    ctx = _ctx(request)
    app = tessera(request)
    entity = request.query_params.get("entity") or ""
    if entity not in app.registry.entities:
        raise BadRequest(f"parameter 'entity': '{entity[:40]}' is not a deployed entity")
    rid = record_id(request.query_params.get("record_id") or "")
    app.records.get(entity, rid, ctx)  # 404 for a record this user may not see
    return {"entity": entity, "record_id": rid, "plans": timeline(app, entity, rid, ctx.lang)}


@router.post("/followups/{instance_id}/adjust", openapi_extra=_body(ADJUST_BODY))
async def adjust(request: Request, instance_id: str) -> dict[str, Any]:
    ctx = _ctx(request)
    body = await json_object(request)
    action = body.pop("action", None)
    if not isinstance(action, str):
        raise BadRequest(f"'action' must be one of {', '.join(ACTIONS)}")
    return tessera(request).followups.adjust.apply(record_id(instance_id), action, body, ctx)


def _item_out(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "key"} | {"href": f"/work-items/{item['id']}"}


@router.get("/work-items")
def my_items(request: Request) -> dict[str, Any]:
    ctx = _ctx(request)
    items = tessera(request).work_items
    status = request.query_params.get("status") or "open"
    if status not in ("open", "done"):
        raise BadRequest("parameter 'status': open or done")
    found = items.for_user(ctx.user_id) if status == "open" else items.done_by(ctx.user_id)
    return {"items": [_item_out(i) for i in found]}


@router.get("/work-items/{item_id}")
def get_item(request: Request, item_id: str) -> dict[str, Any]:
    return _item_out(tessera(request).work_items.visible(record_id(item_id), _ctx(request)))


@router.post("/work-items/{item_id}/complete", openapi_extra=_body(COMPLETE_BODY))
async def complete(request: Request, item_id: str) -> dict[str, Any]:
    ctx = _ctx(request)
    body = await json_object(request)
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise BadRequest("'data' must be a JSON object of the form's answers")
    items = tessera(request).work_items
    ident = record_id(item_id)
    items.visible(ident, ctx)
    return _item_out(items.complete(ident, data, ctx))


@router.post("/work-items/{item_id}/reassign", openapi_extra=_body({"type": "object", "properties": {"user_id": ID}}))
async def reassign(request: Request, item_id: str) -> dict[str, Any]:
    ctx = _ctx(request)
    body = await json_object(request)
    items = tessera(request).work_items
    ident = record_id(item_id)
    items.visible(ident, ctx)
    return _item_out(items.reassign(ident, int_param(body, "user_id"), ctx))


@router.post(
    "/work-items/{item_id}/reschedule",
    openapi_extra=_body({"type": "object", "properties": {"due_at": {"type": "string", "format": "date-time"}}}),
)
async def reschedule(request: Request, item_id: str) -> dict[str, Any]:
    ctx = _ctx(request)
    body = await json_object(request)
    items = tessera(request).work_items
    ident = record_id(item_id)
    items.visible(ident, ctx)
    return _item_out(items.reschedule(ident, when_param(body, "due_at"), ctx))


@router.post("/work-items/{item_id}/cancel")
def cancel(request: Request, item_id: str) -> dict[str, Any]:
    ctx = _ctx(request)
    items = tessera(request).work_items
    ident = record_id(item_id)
    items.visible(ident, ctx)
    return _item_out(items.cancel(ident, ctx))
