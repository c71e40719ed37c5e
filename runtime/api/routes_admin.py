"""Audit, operation log, error log, system parameters and module switches over REST (PL-21, PL-22).

* ``GET /api/v1/records/{entity}/{id}/history`` — a record's timeline, for anyone who may read the
  record (the record is read first, so data scopes, masking and module switches apply).
* ``/api/v1/admin/...`` — administrators only: audit search, operation log, error log (with
  tracebacks), system parameters and module switches.

Lists are newest first with keyset paging: ``?limit=50&before_id=<next_before_id of the last page>``.
Date filters take ``since`` (inclusive) and ``until`` (exclusive) as ISO dates or date-times in
UTC; a bare date for ``until`` means the end of that day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from runtime import audit, errorlog, oplog
from runtime.api.deps import context, current_user, json_object, record_id, tessera
from runtime.api.errors import error_response
from runtime.errors import BadRequest, Forbidden, NotFound, RecordInvalid
from runtime.identity.users import User
from runtime.records.context import CHANNELS
from runtime.validation.errors import FieldError

router = APIRouter(tags=["audit and operations"])
ACTIONS = ("create", "update", "delete")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


# OpenAPI: the handlers parse their own query strings (bad values are a 400 in our error shape, like the
# records API); these declarations document the parameters for integrators and schema-driven fuzzers.
def _q(name: str, schema: dict[str, Any], description: str, where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema, "description": description}


ParamKey = Annotated[str, Path(min_length=1, max_length=100, description="parameter key, e.g. login.max_failures")]
PackId = Annotated[str, Path(min_length=1, max_length=40, description="pack id")]
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
PAGING = [
    _q("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, f"page size (default {DEFAULT_LIMIT})"),
    _q("before_id", ID_SCHEMA, "next_before_id of the previous page"),
]
DATES = [
    _q("since", {"type": "string", "format": "date-time"}, "from this instant (UTC, inclusive); or a date"),
    _q("until", {"type": "string", "format": "date-time"}, "up to this instant (exclusive); a date: to its end"),
]


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# helpers --------------------------------------------------------------------------------------------
def require_admin(request: Request) -> User:
    user = current_user(request)
    if not user.is_admin:
        raise Forbidden("only administrators may use this page")
    return user


def _int_param(request: Request, name: str, *, minimum: int = 1, maximum: int = 2**63 - 1) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
        raise BadRequest(f"'{name}' must be a whole number from {minimum} to {maximum}")
    return int(raw)


def _path_id(raw: str) -> int:
    """Like deps.record_id, but '²' (a Unicode digit int() refuses) is a 404 too."""
    if not raw.isascii():
        raise NotFound(f"no record with id '{raw[:40]}'")
    return record_id(raw)


def _limit(request: Request) -> int:
    return _int_param(request, "limit", maximum=MAX_LIMIT) or DEFAULT_LIMIT


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.query_params.get(name) or None
    if raw is not None and raw not in allowed:
        raise BadRequest(f"'{name}' must be one of {', '.join(allowed)}")
    return raw


def _when(request: Request, name: str, *, end_of_day: bool = False) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day) + (timedelta(days=1) if end_of_day else timedelta())
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    except (ValueError, OverflowError) as exc:  # OverflowError: an offset pushing year 1 out of range
        raise BadRequest(f"'{name}' must be an ISO date (2026-11-23) or date-time (2026-11-23T09:30:00)") from exc


def _text(request: Request, name: str, max_len: int = 200) -> str | None:
    raw = request.query_params.get(name)
    if raw and "\x00" in raw:
        raise BadRequest(f"'{name}' contains a NUL character (\\0), which no stored value has")
    return raw[:max_len] if raw else None


def _page(rows: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_before_id": rows[-1]["id"] if more and rows else None}


def _iso(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        if isinstance(row.get(key), datetime):
            row[key] = row[key].isoformat(timespec="seconds")
    return row


def _actor(request: Request, user: User) -> oplog.Actor:
    """Who changes parameters and module switches, for the operation log."""
    return oplog.Actor(
        user_id=user.id,
        username=user.username,
        ip=request.client.host if request.client else None,
        request_id=request.state.request_id,
    )


# record history -------------------------------------------------------------------------------------
@router.get(
    "/api/v1/records/{entity}/{rid}/history",
    openapi_extra={"parameters": PAGING},
)
def record_history(entity: str, rid: str, request: Request) -> dict[str, Any]:
    """The record's changes, newest first; only for people who may read the record."""
    user = current_user(request)
    app = tessera(request)
    ident = _path_id(rid)
    ctx = context(request, user)
    page = audit.record_history(
        app, entity, ident, ctx, limit=_limit(request), before_id=_int_param(request, "before_id")
    )  # 404 or 403 exactly as reading the record would
    return page.as_dict()


# admin viewers --------------------------------------------------------------------------------------
@router.get(
    "/api/v1/admin/audit",
    openapi_extra={
        "parameters": [
            _q("entity", {"type": "string", "maxLength": 40}, "entity id"),
            _q("record_id", ID_SCHEMA, "record id"),
            _q("actor_id", ID_SCHEMA, "user id of who made the change"),
            _q("channel", {"type": "string", "enum": list(CHANNELS)}, "ui, api, import, workflow, rule or system"),
            _q("action", {"type": "string", "enum": list(ACTIONS)}, "create, update or delete"),
            _q("request_id", {"type": "string", "maxLength": 64}, "the X-Request-ID of the change"),
            *DATES,
            *PAGING,
        ]
    },
)
def admin_audit(request: Request) -> dict[str, Any]:
    require_admin(request)
    filters = audit.AuditFilter(
        entity=_text(request, "entity", 40),
        record_id=_int_param(request, "record_id"),
        actor_id=_int_param(request, "actor_id"),
        channel=_choice(request, "channel", CHANNELS),
        action=_choice(request, "action", ACTIONS),
        request_id=_text(request, "request_id", 64),
        since=_when(request, "since"),
        until=_when(request, "until", end_of_day=True),
    )
    db = tessera(request).db
    return audit.admin_search(db, filters, limit=_limit(request), before_id=_int_param(request, "before_id")).as_dict()


@router.get(
    "/api/v1/admin/oplog",
    openapi_extra={
        "parameters": [
            _q("kind", {"type": "string", "enum": list(oplog.KINDS)}, "kind of operation"),
            _q("actor_id", ID_SCHEMA, "user id"),
            _q("username", {"type": "string", "maxLength": 64}, "user name (also of failed logins)"),
            _q("ip", {"type": "string", "maxLength": 64}, "client address"),
            _q("request_id", {"type": "string", "maxLength": 64}, "X-Request-ID"),
            *DATES,
            *PAGING,
        ]
    },
)
def admin_oplog(request: Request) -> dict[str, Any]:
    require_admin(request)
    kind = _choice(request, "kind", oplog.KINDS)
    filters = oplog.OpFilter(
        kind=kind,
        actor_id=_int_param(request, "actor_id"),
        username=_text(request, "username", 64),
        ip=_text(request, "ip", 64),
        request_id=_text(request, "request_id", 64),
        since=_when(request, "since"),
        until=_when(request, "until", end_of_day=True),
    )
    limit = _limit(request)
    rows = oplog.query_operations(
        tessera(request).db, filters, limit=limit + 1, before_id=_int_param(request, "before_id")
    )
    return _page([_iso(r, "at") for r in rows], limit)


@router.get(
    "/api/v1/admin/errors",
    openapi_extra={
        "parameters": [
            _q("request_id", {"type": "string", "maxLength": 64}, "the request id the user quoted"),
            _q("error_type", {"type": "string", "maxLength": 200}, "exception type, e.g. KeyError"),
            _q("path", {"type": "string", "maxLength": 500}, "request path prefix"),
            _q("user_id", ID_SCHEMA, "signed-in user"),
            *DATES,
            *PAGING,
        ]
    },
)
def admin_errors(request: Request) -> dict[str, Any]:
    require_admin(request)
    filters = errorlog.ErrorFilter(
        request_id=_text(request, "request_id", 64),
        error_type=_text(request, "error_type", 200),
        path=_text(request, "path", 500),
        user_id=_int_param(request, "user_id"),
        since=_when(request, "since"),
        until=_when(request, "until", end_of_day=True),
    )
    limit = _limit(request)
    rows = errorlog.query_errors(
        tessera(request).db, filters, limit=limit + 1, before_id=_int_param(request, "before_id")
    )
    return _page([_iso(r, "at") for r in rows], limit)


@router.get("/api/v1/admin/errors/{error_id}")
def admin_error(error_id: Annotated[int, Path(ge=1, le=2**63 - 1)], request: Request) -> dict[str, Any]:
    require_admin(request)
    row = errorlog.get_error(tessera(request).db, error_id)
    if row is None:
        raise NotFound(f"no error #{error_id}")
    return _iso(row, "at")


# system parameters ----------------------------------------------------------------------------------
@router.get("/api/v1/admin/params")
def list_params(request: Request) -> dict[str, Any]:
    require_admin(request)
    return {"items": tessera(request).params.all()}


@router.put(
    "/api/v1/admin/params",
    openapi_extra=_body({"type": "object", "description": "parameter key -> new value"}),
)
async def put_params(request: Request) -> dict[str, Any]:
    """Body: {"key": value, ...}. All values are checked before any is stored."""
    user = require_admin(request)
    app = tessera(request)
    body = await json_object(request)
    app.params.change(body, by=_actor(request, user), lang=context(request, user).lang)
    return {"items": app.params.all()}


@router.get("/api/v1/admin/params/{key}")
def get_param(key: ParamKey, request: Request) -> dict[str, Any]:
    require_admin(request)
    return tessera(request).params.describe(key)


@router.put(
    "/api/v1/admin/params/{key}",
    openapi_extra=_body({"type": "object", "required": ["value"], "properties": {"value": {}}}),
)
async def put_param(key: ParamKey, request: Request) -> dict[str, Any]:
    """Body: {"value": ...}."""
    user = require_admin(request)
    app = tessera(request)
    body = await json_object(request)
    if "value" not in body:
        raise RecordInvalid([FieldError("value", "is required", "required")])
    app.params.param(key)  # an unknown key is a 404
    try:
        app.params.change({key: body["value"]}, by=_actor(request, user), lang=context(request, user).lang)
    except RecordInvalid as exc:  # one value: its problems are the body's "value"
        raise RecordInvalid([FieldError("value", e.message, e.code) for e in exc.errors]) from None
    return app.params.describe(key)


# module switches ------------------------------------------------------------------------------------
def _module(app: Any, pack_id: str) -> dict[str, Any]:
    pack = app.registry.packs.get(pack_id)
    if pack is None:
        raise NotFound(f"no deployed pack '{pack_id}'")
    return {
        "pack_id": pack_id,
        "name": pack.manifest.get("name"),
        "version": pack.version,
        "enabled": app.params.module_enabled(pack_id),
        "entities": sorted(pack.entities),
    }


@router.get("/api/v1/admin/modules")
def list_modules(request: Request) -> dict[str, Any]:
    require_admin(request)
    app = tessera(request)
    return {"items": [_module(app, pack_id) for pack_id in sorted(app.registry.packs)]}


@router.get("/api/v1/admin/modules/{pack_id}")
def get_module(pack_id: PackId, request: Request) -> dict[str, Any]:
    require_admin(request)
    return _module(tessera(request), pack_id)


@router.put(
    "/api/v1/admin/modules/{pack_id}",
    openapi_extra=_body({"type": "object", "required": ["enabled"], "properties": {"enabled": {"type": "boolean"}}}),
)
async def put_module(pack_id: PackId, request: Request) -> dict[str, Any]:
    """Body: {"enabled": true|false}."""
    user = require_admin(request)
    app = tessera(request)
    _module(app, pack_id)
    body = await json_object(request)
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise RecordInvalid([FieldError("enabled", "must be true or false", "type")])
    app.params.set_module(pack_id, enabled, by=_actor(request, user))
    return _module(app, pack_id)


# module switch guard --------------------------------------------------------------------------------
GUARDED_PREFIXES = ("/api/v1/records/", "/api/v1/entities/")


class ModuleSwitchGuard:
    """A switched-off module's entities answer 404 on the records (and entity metadata) API.

    Pure ASGI and cheap: one dict lookup and a cached parameter read per guarded request. Must sit
    inside the request-id middleware so the 404 body carries the request id.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            for prefix in GUARDED_PREFIXES:
                if path.startswith(prefix):
                    entity_id = path[len(prefix) :].split("/", 1)[0]
                    if not self._enabled(scope, entity_id):
                        request = Request(scope, receive)
                        response = error_response(request, 404, "not_found", f"unknown entity '{entity_id[:40]}'")
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)

    @staticmethod
    def _enabled(scope: Scope, entity_id: str) -> bool:
        app = scope["app"].state.tessera
        entity = app.registry.entities.get(entity_id)
        if entity is None or not entity.pack_id:
            return True  # unknown entities get the router's own 404
        return app.params.module_enabled(entity.pack_id)
