"""Records CRUD and list at /api/v1/records/{entity}: the API channel of the records service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from runtime.api.deps import context, current_user, json_object, record_id, tessera
from runtime.errors import BadRequest, RecordInvalid
from runtime.records.url_query import list_query_from_params
from runtime.validation.errors import FieldError

router = APIRouter(prefix="/api/v1/records", tags=["records"])


def _version(request: Request, body: dict[str, Any], required: bool) -> int | None:
    """The version the client read: from the body's 'version' or an If-Match header."""
    raw = body.pop("version", None)
    if raw is None and request.headers.get("if-match"):
        raw = request.headers["if-match"].strip('"W/ ')
        if not raw.isdigit():
            raise BadRequest("If-Match must hold the record version number")
        raw = int(raw)
    if raw is None:
        if required:
            raise RecordInvalid(
                [
                    FieldError(
                        "version",
                        "is required: send the version you read, so a newer change is never overwritten",
                        "required",
                    )
                ]
            )
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise RecordInvalid([FieldError("version", "must be a positive whole number", "type")])
    return raw


@router.get("/{entity}")
def list_records(entity: str, request: Request) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    ent = app.registry.entity(entity)
    query = list_query_from_params(app.registry, ent, list(request.query_params.multi_items()))
    return app.records.list(entity, query, context(request, user)).as_dict()


@router.post("/{entity}", status_code=201)
async def create_record(entity: str, request: Request, response: Response) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    app.registry.entity(entity)
    body = await json_object(request)
    body.pop("version", None)
    record = app.records.create(entity, body, context(request, user), form_id=request.query_params.get("form"))
    response.headers["Location"] = f"/api/v1/records/{entity}/{record['id']}"
    response.headers["ETag"] = f'"{record["version"]}"'
    return record


@router.get("/{entity}/{rid}")
def get_record(entity: str, rid: str, request: Request, response: Response) -> dict[str, Any]:
    user = current_user(request)
    record = tessera(request).records.get(entity, record_id(rid), context(request, user))
    response.headers["ETag"] = f'"{record["version"]}"'
    return record


async def _update(entity: str, rid: str, request: Request, response: Response, *, replace: bool) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    ident = record_id(rid)
    ent = app.registry.entity(entity)
    body = await json_object(request)
    version = _version(request, body, required=True)
    if replace:
        full: dict[str, Any] = {f.name: None for f in ent.fields if not f.is_system_filled and not f.read_only}
        full.update({f.name: [] for f in ent.fields if f.type == "child_table"})
        body = {**full, **body}
    record = app.records.update(
        entity, ident, body, context(request, user), expected_version=version, form_id=request.query_params.get("form")
    )
    response.headers["ETag"] = f'"{record["version"]}"'
    return record


@router.patch("/{entity}/{rid}")
async def patch_record(entity: str, rid: str, request: Request, response: Response) -> dict[str, Any]:
    """Change some fields; the others keep their values."""
    return await _update(entity, rid, request, response, replace=False)


@router.put("/{entity}/{rid}")
async def put_record(entity: str, rid: str, request: Request, response: Response) -> dict[str, Any]:
    """Replace the record: fields not sent become empty."""
    return await _update(entity, rid, request, response, replace=True)


@router.delete("/{entity}/{rid}", status_code=204)
def delete_record(entity: str, rid: str, request: Request) -> Response:
    user = current_user(request)
    app = tessera(request)
    ident = record_id(rid)
    body: dict[str, Any] = {}
    if request.query_params.get("version"):
        raw = request.query_params["version"]
        if not raw.isdigit():
            raise BadRequest("version must be a whole number")
        body["version"] = int(raw)
    version = _version(request, body, required=False)
    app.records.delete(entity, ident, context(request, user), expected_version=version)
    return Response(status_code=204)


@router.post("/{entity}/_evaluate")
async def evaluate_form(entity: str, request: Request) -> dict[str, Any]:
    """What a form looks like for values typed so far: visible/required/read-only per field, computed values."""
    user = current_user(request)
    app = tessera(request)
    body = await json_object(request)
    state = app.records.form_state(entity, body, context(request, user), form_id=request.query_params.get("form"))
    ent = app.registry.entity(entity)
    from runtime.records.convert import row_to_json

    computed = row_to_json([f for f in ent.fields if f.type == "computed"], state.computed)
    return {
        "fields": {name: vars(s) for name, s in state.states.items()},
        "computed": computed,
        "errors": [e.as_dict() for e in state.errors],
    }
