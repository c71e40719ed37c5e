"""The builder's JSON API under /api/v1/builder (PL-18/PL-19), installed as the `builder` extension.

Only designers (admins or holders of the 'designer' right) get past the door: 403 for everyone else.
Problems come back as the platform's error body with per-problem entries naming file and JSON pointer:
422 "pack_invalid" for content the runtime refuses, 409 "deploy_refused" for a plan that would lose
data, 400 for malformed input. Bodies are read by hand (not by pydantic models) and every path
parameter is checked before it reaches the database, so a fuzzer's input is a 4xx, never a 500.

Upgrades take the new shipped pack as a multipart upload (field "file": the zip; field
"resolutions": a JSON object conflict id -> "ours" | "theirs").
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from builder.access import require_designer
from builder.export import zip_bytes
from builder.workspace import Workspace
from runtime.api.deps import context, current_user, json_body, json_object, tessera
from runtime.api.errors import error_response
from runtime.blueprints.errors import PackInvalid
from runtime.errors import BadRequest, NotFound
from runtime.records.context import Context
from runtime.services import Tessera
from runtime.storage.deploy import DeployRefused

router = APIRouter(prefix="/api/v1/builder", tags=["builder"])
PACK_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
WORKFLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.bpmn$")
MAX_NUMBER = 2**31 - 1
MAX_UPLOAD = 20 * 1024 * 1024


def _body(schema: dict[str, Any], content: str = "application/json") -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {content: {"schema": schema}}}}


UPLOAD = _body(
    {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "the shipped pack as a zip"},
            "resolutions": {"type": "string", "description": 'JSON: {"<conflict id>": "ours" | "theirs"}'},
        },
    },
    "multipart/form-data",
)


def install(app: FastAPI, tessera: Tessera) -> None:
    """Extension entry point (tessera.extensions): mount the builder API."""
    app.include_router(router)


# plumbing -------------------------------------------------------------------------------------------
def _designer(request: Request) -> tuple[Workspace, Context, Any]:
    user = current_user(request)
    ctx = context(request, user)
    app = tessera(request)
    require_designer(app, ctx)
    return Workspace(app), ctx, user


def _pack_id(raw: str) -> str:
    if not PACK_ID.match(raw):
        raise NotFound(f"no pack '{raw[:60]}' is deployed")
    return raw


def _number(raw: Any, what: str = "version") -> int:
    try:
        value = int(str(raw), 10)
    except ValueError:
        raise BadRequest(f"the {what} must be a whole number, got '{str(raw)[:40]}'") from None
    if not 1 <= value <= MAX_NUMBER:
        raise BadRequest(f"the {what} must be between 1 and {MAX_NUMBER}")
    return value


def _which(raw: str) -> int | str:
    return "draft" if raw == "draft" else _number(raw)


def _refused(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, PackInvalid):
        errors = [e.as_dict() for e in exc.errors]
        first = errors[0] if errors else {"file": "", "pointer": "/", "message": "invalid"}
        message = f"{len(errors)} problem(s), first: {first['file']} {first['pointer']}: {first['message']}"
        return error_response(request, 422, "pack_invalid", message, errors=errors)
    assert isinstance(exc, DeployRefused)
    return error_response(
        request, 409, "deploy_refused", "publishing would lose data: " + "; ".join(exc.problems), problems=exc.problems
    )


def _guard(request: Request, work: Callable[[], Any]) -> Any:
    """Run `work`; PackInvalid and DeployRefused become their error bodies (other errors: the app's handlers)."""
    try:
        return work()
    except (PackInvalid, DeployRefused) as exc:
        return _refused(request, exc)


def _no_nul(value: Any) -> None:
    """PostgreSQL cannot store NUL in text or JSON: refuse it as a bad request rather than fail deep down."""
    if "\\u0000" in json.dumps(value):
        raise BadRequest("the document may not contain NUL characters")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# packs and drafts -----------------------------------------------------------------------------------
@router.get("/packs")
def list_packs(request: Request) -> Any:
    ws, _, _ = _designer(request)
    return _jsonable({"items": ws.packs()})


@router.get("/packs/{pack_id}/draft")
def get_draft(request: Request, pack_id: str) -> Any:
    ws, _, _ = _designer(request)
    return _jsonable(asdict(ws.draft(_pack_id(pack_id))))


@router.put(
    "/packs/{pack_id}/documents/{rel:path}",
    openapi_extra=_body({"type": "object", "description": "the JSON document (entity, form, view, ...)"}),
)
async def put_document(request: Request, pack_id: str, rel: str) -> Any:
    ws, _, user = _designer(request)
    doc = await json_body(request)
    _no_nul(doc)
    pid = _pack_id(pack_id)
    return await run_in_threadpool(
        _guard, request, lambda: {"warnings": ws.save_document(pid, rel, doc, user=user.username)}
    )


@router.delete("/packs/{pack_id}/documents/{rel:path}")
def delete_document(request: Request, pack_id: str, rel: str) -> Any:
    ws, _, user = _designer(request)
    pid = _pack_id(pack_id)
    return _guard(request, lambda: ws.delete_document(pid, rel, user=user.username) or {"deleted": rel})


@router.put(
    "/packs/{pack_id}/workflows/{name}",
    openapi_extra=_body({"type": "object", "required": ["xml"], "properties": {"xml": {"type": "string"}}}),
)
async def put_workflow(request: Request, pack_id: str, name: str) -> Any:
    ws, _, user = _designer(request)
    body = await json_object(request)
    xml = body.get("xml")
    if not isinstance(xml, str) or "\x00" in xml:
        raise BadRequest("'xml' must be the BPMN file as text")
    if not WORKFLOW_NAME.match(name):
        raise BadRequest("a workflow file name is letters, digits, '_', '-', '.' and ends in .bpmn")
    pid = _pack_id(pack_id)
    rel = f"workflows/{name}"
    return await run_in_threadpool(
        _guard, request, lambda: {"warnings": ws.save_workflow(pid, rel, xml, user=user.username)}
    )


@router.post("/packs/{pack_id}/discard")
def discard(request: Request, pack_id: str) -> Any:
    ws, _, user = _designer(request)
    ws.discard(_pack_id(pack_id), user=user.username)
    return {"discarded": True}


@router.get("/packs/{pack_id}/check")
def check(request: Request, pack_id: str) -> Any:
    ws, _, _ = _designer(request)
    return {"problems": ws.check(_pack_id(pack_id))}


@router.get("/packs/{pack_id}/preview")
def preview(request: Request, pack_id: str) -> Any:
    ws, ctx, _ = _designer(request)
    return _jsonable(ws.preview(_pack_id(pack_id), lang=ctx.lang))


@router.post(
    "/packs/{pack_id}/publish",
    openapi_extra=_body({"type": "object", "properties": {"comment": {"type": "string", "maxLength": 2000}}}),
)
async def publish(request: Request, pack_id: str) -> Any:
    ws, _, user = _designer(request)
    comment = _comment(await json_object(request))
    pid = _pack_id(pack_id)
    return await run_in_threadpool(
        _guard, request, lambda: _jsonable(ws.publish(pid, user=user.username, user_id=user.id, comment=comment))
    )


def _comment(body: dict[str, Any]) -> str:
    comment = body.get("comment", "")
    if comment is None:
        return ""
    if not isinstance(comment, str) or len(comment) > 2000 or "\x00" in comment:
        raise BadRequest("'comment' must be text of at most 2000 characters")
    return comment


# history --------------------------------------------------------------------------------------------
@router.get("/packs/{pack_id}/versions")
def versions(request: Request, pack_id: str) -> Any:
    ws, _, _ = _designer(request)
    return _jsonable({"items": ws.versions(_pack_id(pack_id))})


@router.get("/packs/{pack_id}/versions/{number}")
def version(request: Request, pack_id: str, number: str) -> Any:
    ws, _, _ = _designer(request)
    return _jsonable(ws.version(_pack_id(pack_id), _number(number)))


@router.get("/packs/{pack_id}/diff")
def diff(request: Request, pack_id: str, a: str, b: str = "draft") -> Any:
    """Changes from a to b: version numbers or 'draft'."""
    ws, _, _ = _designer(request)
    return _jsonable({"changes": ws.diff(_pack_id(pack_id), _which(a), _which(b))})


@router.post(
    "/packs/{pack_id}/rollback",
    openapi_extra=_body(
        {
            "type": "object",
            "required": ["number"],
            "properties": {"number": {"type": "integer", "minimum": 1}, "comment": {"type": "string"}},
        }
    ),
)
async def rollback(request: Request, pack_id: str) -> Any:
    ws, _, user = _designer(request)
    body = await json_object(request)
    if isinstance(body.get("number"), bool) or not isinstance(body.get("number"), int):
        raise BadRequest("'number' must be the version number to roll back to")
    number, comment = _number(body["number"]), _comment(body)
    pid = _pack_id(pack_id)
    return await run_in_threadpool(
        _guard,
        request,
        lambda: _jsonable(ws.rollback(pid, number, user=user.username, user_id=user.id, comment=comment)),
    )


@router.get("/packs/{pack_id}/export", response_class=Response)
def export(request: Request, pack_id: str) -> Response:
    """The published pack as a zip that `tessera pack deploy` accepts once unpacked."""
    ws, _, _ = _designer(request)
    pid = _pack_id(pack_id)
    published = ws.version(pid, ws.versions(pid)[0]["number"])
    data = zip_bytes(published["documents"], published["workflows"])
    headers = {"Content-Disposition": f'attachment; filename="{pid}-{published["pack_version"]}.zip"'}
    return Response(data, media_type="application/zip", headers=headers)


# upgrades -------------------------------------------------------------------------------------------
async def _upload(request: Request) -> tuple[bytes, dict[str, str]]:
    try:
        form = await request.form(max_files=1, max_fields=5)
    except Exception as exc:  # noqa: BLE001 - malformed multipart of any kind is the client's error
        raise BadRequest(f"expected a multipart upload with a 'file' field: {str(exc)[:200]}") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise BadRequest("the upload needs a 'file' field holding the shipped pack as a zip")
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise BadRequest("the uploaded pack is larger than 20 MB")
    raw = form.get("resolutions") or "{}"
    try:
        resolutions = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        resolutions = None
    if not isinstance(resolutions, dict) or not all(isinstance(v, str) for v in resolutions.values()):
        raise BadRequest('\'resolutions\' must be a JSON object {"<conflict id>": "ours" | "theirs"}')
    return data, resolutions


def _with_zip(data: bytes, work: Callable[[Path], Any]) -> Any:
    with tempfile.TemporaryDirectory(prefix="tessera-upload-") as tmp:
        path = Path(tmp) / "shipped.zip"
        path.write_bytes(data)
        return work(path)


@router.post("/packs/{pack_id}/upgrade/preview", openapi_extra=UPLOAD)
async def upgrade_preview(request: Request, pack_id: str) -> Any:
    ws, _, _ = _designer(request)
    data, _ = await _upload(request)
    pid = _pack_id(pack_id)
    return await run_in_threadpool(
        _guard, request, lambda: _jsonable(_with_zip(data, lambda p: ws.upgrade_preview(pid, p)))
    )


@router.post("/packs/{pack_id}/upgrade", openapi_extra=UPLOAD)
async def upgrade(request: Request, pack_id: str) -> Any:
    ws, _, user = _designer(request)
    data, resolutions = await _upload(request)
    pid = _pack_id(pack_id)

    def run(path: Path) -> Any:
        return ws.upgrade(pid, path, resolutions=resolutions, user=user.username, user_id=user.id)

    return await run_in_threadpool(_guard, request, lambda: _jsonable(_with_zip(data, run)))
