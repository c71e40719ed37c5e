"""Workflows over REST (PL-14, PL-15): start processes, see instances, work the task inbox, send messages.

* ``GET  /api/v1/workflows`` the deployed processes (newest version of each)
* ``POST /api/v1/workflows/{process_id}/start`` {"data": {...}, "record": {"entity", "id"}, "correlation_key"}
* ``GET  /api/v1/workflows/instances/{id}`` state, current steps, history;
  ``GET .../instances/{id}/diagram`` BPMN XML + current/completed element ids (for bpmn-js)
* ``GET  /api/v1/workflows/instances?entity=&record_id=`` a record's workflows
* ``POST /api/v1/workflows/instances/{id}/withdraw`` the starter cancels
* ``POST /api/v1/workflows/messages`` {"name", "correlation_key", "payload"}: administrators, integrations, and
  users allowed to start the receiving process (its start event's ``starter_roles``); others get 403
* starting a process needs the same right (administrators always): 403 otherwise
* ``GET  /api/v1/tasks`` my inbox (``process``, ``overdue``, ``status`` filters); ``GET /api/v1/tasks/{id}``
* ``POST /api/v1/tasks/{id}/claim|complete|reassign|delegate``
* admin: ``GET .../instances/{id}/migration-preview?version=``, ``POST .../instances/{id}/migrate`` {"version"}
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from runtime.api.deps import context, current_user, json_object, record_id, tessera
from runtime.errors import BadRequest, Forbidden
from runtime.records.context import Context
from runtime.workflows import views

router = APIRouter(prefix="/api/v1", tags=["workflows"])
ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
NAME = {"type": "string", "maxLength": 100}


def _q(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


START_BODY = {
    "type": "object",
    "properties": {
        "data": {"type": "object", "description": "the process variables (JSON)"},
        "record": {"type": "object", "properties": {"entity": NAME, "id": ID}, "required": ["entity", "id"]},
        "correlation_key": {"type": "string", "maxLength": 200},
    },
}
COMPLETE_BODY = {
    "type": "object",
    "properties": {
        "data": {"type": "object", "description": "the values of the task's form"},
        "outcome": {"type": "string", "maxLength": 40},
        "comment": {"type": "string", "maxLength": 4000},
    },
}
USER_BODY = {"type": "object", "required": ["user_id"], "properties": {"user_id": ID}}
MESSAGE_BODY = {
    "type": "object",
    "required": ["name", "correlation_key"],
    "properties": {"name": NAME, "correlation_key": {"type": "string", "maxLength": 200}, "payload": {}},
}


def _ctx(request: Request) -> Context:
    return context(request, current_user(request))


def _text(body: dict[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise BadRequest(f"'{name}' must be text of 1 to {limit} characters")
    return value


def _user_id(body: dict[str, Any]) -> int:
    value = body.get("user_id")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 2**63 - 1:
        raise BadRequest("'user_id' must be a user id")
    return value


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"'{name}' must be a JSON object")
    return value


@router.get("/workflows")
def list_processes(request: Request) -> dict[str, Any]:
    _ctx(request)
    rows = tessera(request).workflows.spec_rows()
    return {"items": [{"process_id": r.process_id, "version": r.version, "source": r.source} for r in rows]}


@router.post("/workflows/{process_id}/start", status_code=201, openapi_extra=_body(START_BODY))
async def start(request: Request, process_id: str) -> dict[str, Any]:
    body = await json_object(request)
    ctx = _ctx(request)
    record = None
    if body.get("record") is not None:
        raw = _object(body, "record")
        entity, rid = raw.get("entity"), raw.get("id")
        if not isinstance(entity, str) or not isinstance(rid, int) or isinstance(rid, bool) or rid < 1:
            raise BadRequest('\'record\' must be {"entity": text, "id": record id}')
        record = (entity, rid)
    host = tessera(request).workflows
    started = host.start(
        process_id[:100],
        _object(body, "data"),
        ctx,
        record=record,
        correlation_key=_text(body, "correlation_key", 200),
    )
    return host.instance(started["id"], ctx, check=False)  # the step answers lean; the API shows the full view


@router.get(
    "/workflows/instances",
    openapi_extra={
        "parameters": [
            _q("entity", NAME, "the linked record's entity", True),
            _q("record_id", ID, "the linked record's id", True),
        ]
    },
)
def record_instances(request: Request) -> dict[str, Any]:
    ctx = _ctx(request)
    entity = request.query_params.get("entity") or ""
    raw_id = request.query_params.get("record_id") or ""
    if not entity or len(entity) > 100:
        raise BadRequest("'entity' is required")
    return {"items": views.instances_for_record(tessera(request).workflows, entity, record_id(raw_id), ctx)}


@router.get("/workflows/instances/{instance_id}")
def get_instance(request: Request, instance_id: str) -> dict[str, Any]:
    return tessera(request).workflows.instance(record_id(instance_id), _ctx(request))


@router.get("/workflows/instances/{instance_id}/diagram")
def get_diagram(request: Request, instance_id: str) -> dict[str, Any]:
    return views.diagram(tessera(request).workflows, record_id(instance_id), _ctx(request))


@router.post("/workflows/instances/{instance_id}/withdraw")
def withdraw(request: Request, instance_id: str) -> dict[str, Any]:
    return tessera(request).workflows.withdraw(record_id(instance_id), _ctx(request))


@router.post("/workflows/messages", openapi_extra=_body(MESSAGE_BODY))
async def send_message(request: Request) -> dict[str, Any]:
    body = await json_object(request)
    ctx = _ctx(request)  # the host checks the sender may start the receiving process
    name = _text(body, "name", 100, required=True)
    key = _text(body, "correlation_key", 200, required=True)
    ids = tessera(request).workflows.send_message(name, key, body.get("payload"), ctx)  # type: ignore[arg-type]
    return {"instances": ids}


def _admin_ctx(request: Request, what: str = "migrate workflow instances") -> Context:
    """Administrators only (migrations)."""
    ctx = _ctx(request)
    if not (ctx.is_admin or tessera(request).permissions.has_right(ctx, "admin")):
        raise Forbidden(f"only administrators may {what}")
    return ctx


@router.get(
    "/workflows/instances/{instance_id}/migration-preview",
    openapi_extra={"parameters": [_q("version", {"type": "integer", "minimum": 1}, "target version", True)]},
)
def migration_preview(request: Request, instance_id: str) -> dict[str, Any]:
    _admin_ctx(request)
    version = request.query_params.get("version") or ""
    if not (version.isascii() and version.isdigit()) or not 0 < int(version) < 10**9:
        raise BadRequest("'version' must be a positive whole number")
    return tessera(request).workflows.preview_migration(record_id(instance_id), int(version))


@router.post(
    "/workflows/instances/{instance_id}/migrate",
    openapi_extra=_body(
        {"type": "object", "required": ["version"], "properties": {"version": {"type": "integer", "minimum": 1}}}
    ),
)
async def migrate(request: Request, instance_id: str) -> dict[str, Any]:
    body = await json_object(request)
    ctx = _admin_ctx(request)
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 < version < 10**9:
        raise BadRequest("'version' must be a positive whole number")
    return tessera(request).workflows.migrate(record_id(instance_id), version, ctx)


# the task inbox ------------------------------------------------------------------------------------------
@router.get(
    "/tasks",
    openapi_extra={
        "parameters": [
            _q("process", NAME, "only tasks of this process (the task type: approval, mdt_consultation, ...)"),
            _q("type", NAME, "the same as process"),
            _q("overdue", {"type": "boolean"}, "only overdue (true) or not overdue (false) tasks"),
            _q("status", {"enum": ["ready", "claimed", "completed", "cancelled"]}, "default: ready and claimed"),
        ]
    },
)
def my_tasks(request: Request) -> dict[str, Any]:
    ctx = _ctx(request)
    raw_overdue = request.query_params.get("overdue")
    overdue = None
    if raw_overdue:
        if raw_overdue.lower() not in ("true", "false", "1", "0"):
            raise BadRequest("'overdue' must be true or false")
        overdue = raw_overdue.lower() in ("true", "1")
    status = request.query_params.get("status") or None
    if status is not None and status not in ("ready", "claimed", "completed", "cancelled"):
        raise BadRequest("'status' must be one of ready, claimed, completed, cancelled")
    process = (request.query_params.get("process") or request.query_params.get("type") or "")[:100] or None
    items = views.inbox(tessera(request).workflows, ctx, process_id=process, overdue=overdue, status=status)
    return {"items": items}


@router.get("/tasks/{task_id}")
def get_task(request: Request, task_id: str) -> dict[str, Any]:
    return views.task_view(tessera(request).workflows, record_id(task_id), _ctx(request))


@router.post("/tasks/{task_id}/claim")
def claim(request: Request, task_id: str) -> dict[str, Any]:
    ctx = _ctx(request)
    tessera(request).workflows.claim(record_id(task_id), ctx)
    return views.task_view(tessera(request).workflows, record_id(task_id), ctx)


@router.post("/tasks/{task_id}/complete", openapi_extra=_body(COMPLETE_BODY))
async def complete(request: Request, task_id: str) -> dict[str, Any]:
    body = await json_object(request)
    ctx = _ctx(request)
    host = tessera(request).workflows
    done = host.complete(
        record_id(task_id),
        _object(body, "data"),
        ctx,
        outcome=_text(body, "outcome", 40),
        comment=_comment(body),
    )
    return host.instance(done["id"], ctx, check=False)


def _comment(body: dict[str, Any]) -> str | None:
    """An empty or blank comment is no comment (a rejection without one gets a field error from the host)."""
    value = body.get("comment")
    if isinstance(value, str) and not value.strip():
        return None
    return _text(body, "comment", 4000)


@router.post("/tasks/{task_id}/reassign", openapi_extra=_body(USER_BODY))
async def reassign(request: Request, task_id: str) -> dict[str, Any]:
    body = await json_object(request)
    ctx = _ctx(request)
    row = tessera(request).workflows.reassign(record_id(task_id), _user_id(body), ctx)
    return views.task_json(row, tessera(request).clock.now())


@router.post("/tasks/{task_id}/delegate", openapi_extra=_body(USER_BODY))
async def delegate(request: Request, task_id: str) -> dict[str, Any]:
    body = await json_object(request)
    ctx = _ctx(request)
    row = tessera(request).workflows.delegate(record_id(task_id), _user_id(body), ctx)
    return views.task_json(row, tessera(request).clock.now())
