"""People administration over REST: users, the department tree, roles, and user import (PL-20).

Everything under /api/v1/admin/users, /departments and /roles needs an administrator, or a user holding
a role with the global 'admin' right. Users are never deleted: DELETE deactivates (sessions end).

* ``GET/POST /api/v1/admin/users``, ``GET/PATCH/DELETE /api/v1/admin/users/{id}``,
  ``PUT /api/v1/admin/users/{id}/roles`` ({"roles": [...]})
* ``POST /api/v1/admin/users/import?mode=preview|commit&kind=users|departments&skip_invalid=false``
  (multipart form with a ``file``: .xlsx or .csv; see runtime.permissions.people_import)
* ``GET/POST /api/v1/admin/departments`` (``?tree=true`` for the nested tree),
  ``GET/PATCH/DELETE /api/v1/admin/departments/{id}`` (PATCH ``parent_id`` moves; cycles are refused)
* ``GET/POST /api/v1/admin/roles``, ``GET/PUT/DELETE /api/v1/admin/roles/{id}``,
  ``POST /api/v1/admin/roles/{id}/reset`` (back to the pack's definition)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from runtime.api.deps import client_ip, context, current_user, json_body, json_object, tessera
from runtime.errors import BadRequest, NotFound
from runtime.permissions.admin import PeopleAdmin, parse_id
from runtime.permissions.people_import import PeopleImport
from runtime.records.context import Context

router = APIRouter(prefix="/api/v1/admin", tags=["people"])
MAX_UPLOAD = 10 * 1024 * 1024


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
USER_SCHEMA = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "pattern": "^[A-Za-z0-9_.@-]{2,64}$"},
        "display_name": {"type": "string", "maxLength": 100},
        "password": {"type": "string"},
        "department_id": {**ID, "nullable": True},
        "organisation": {"type": "string", "maxLength": 100},
        "phone": {"type": "string", "maxLength": 32},
        "email": {"type": "string", "format": "email"},
        "notify_channels": {"type": "array", "items": {"enum": ["in_app", "email", "sms", "wechat"]}},
        "active": {"type": "boolean"},
        "is_admin": {"type": "boolean"},
        "language": {"enum": ["zh", "en"]},
        "roles": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}
DEPARTMENT_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 100},
        "parent_id": {**ID, "nullable": True},
        "code": {"type": "string", "maxLength": 40},
        "organisation": {"type": "string", "maxLength": 100},
        "sort": {"type": "integer"},
    },
    "additionalProperties": False,
}
ROLE_SCHEMA = {
    "type": "object",
    "description": "a role document, as in a pack's roles/*.json (see GET /api/v1/schema/pack, $defs/role)",
    "required": ["id", "label"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"},
        "label": {"type": "string", "minLength": 1, "maxLength": 200},
        "parent": {"type": "string"},
        "rights": {"type": "array", "items": {"enum": ["admin", "designer", "his"]}},
        "permissions": {"type": "array", "items": {"type": "object"}},
    },
}
ROLES_BODY = {
    "type": "object",
    "required": ["roles"],
    "properties": {"roles": {"type": "array", "items": {"type": "string"}}},
}


def _admin(request: Request) -> tuple[PeopleAdmin, Context]:
    """The people service for an administrator (or a holder of the 'admin' right); 403 for anyone else."""
    user = current_user(request)
    ctx = context(request, user)
    admin = PeopleAdmin.for_admin(tessera(request), ctx, username=user.username, ip=client_ip(request))
    return admin, ctx


def _int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= 2**63 - 1:
        raise BadRequest(f"'{name}' must be a positive whole number")
    return int(raw)


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false", "1", "0"):
        raise BadRequest(f"'{name}' must be true or false")
    return raw.lower() in ("true", "1")


# users ----------------------------------------------------------------------------------------------
@router.get(
    "/users",
    openapi_extra={
        "parameters": [
            _q("q", {"type": "string", "maxLength": 100}, "part of the username or name"),
            _q("department_id", ID, "only users of this department"),
            _q("active", {"type": "boolean"}, "only active (true) or deactivated (false) users"),
            _q("role", {"type": "string", "maxLength": 40}, "only holders of this role"),
            _q("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size (default 50)"),
            _q("after_id", ID, "next_after_id of the previous page"),
        ]
    },
)
def list_users(request: Request) -> dict[str, Any]:
    admin, _ = _admin(request)
    limit = _int(request, "limit") or 50
    if limit > 200:
        raise BadRequest("'limit' must be at most 200")
    search = (request.query_params.get("q") or "").strip()[:100] or None
    if search and "\x00" in search:
        raise BadRequest("query parameters may not contain NUL characters")
    return admin.list_users(
        search=search,
        department_id=_int(request, "department_id"),
        active=_flag(request, "active"),
        role=(request.query_params.get("role") or None),
        limit=limit,
        after_id=_int(request, "after_id"),
    )


@router.post("/users", status_code=201, openapi_extra=_body(USER_SCHEMA))
async def create_user(request: Request) -> dict[str, Any]:
    admin, ctx = _admin(request)
    return admin.create_user(await json_body(request), ctx)


@router.post(
    "/users/import",
    openapi_extra={
        "parameters": [
            _q("mode", {"enum": ["preview", "commit"]}, "preview (default) writes nothing"),
            _q("kind", {"enum": ["users", "departments"]}, "what a CSV or single-sheet workbook holds"),
            _q("skip_invalid", {"type": "boolean"}, "commit the valid rows even when some rows have errors"),
        ],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        },
    },
)
async def import_users(request: Request) -> dict[str, Any]:
    """Preview or commit an import of users and departments (per-row errors; idempotent upsert)."""
    admin, ctx = _admin(request)
    mode = request.query_params.get("mode", "preview")
    if mode not in ("preview", "commit"):
        raise BadRequest("mode must be preview or commit")
    kind = request.query_params.get("kind", "users")
    if kind not in ("users", "departments"):
        raise BadRequest("kind must be users or departments")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("upload the file as multipart/form-data in a field named 'file'")
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # noqa: BLE001 - malformed multipart bodies raise several kinds
        raise BadRequest("the upload is not a valid multipart form") from exc
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise BadRequest("upload the file in a form field named 'file'")
    content = await upload.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise BadRequest("the file is larger than 10 MB")
    return PeopleImport(admin).run(
        content,
        upload.filename or "upload.xlsx",
        kind=kind,
        commit=mode == "commit",
        skip_invalid=bool(_flag(request, "skip_invalid")),
        actor=ctx,
    )


@router.get("/users/{user_id}")
def get_user(user_id: str, request: Request) -> dict[str, Any]:
    admin, _ = _admin(request)
    return admin.get_user(parse_id(user_id))


@router.patch("/users/{user_id}", openapi_extra=_body(USER_SCHEMA))
async def update_user(user_id: str, request: Request) -> dict[str, Any]:
    admin, ctx = _admin(request)
    ident = parse_id(user_id)
    return admin.update_user(ident, await json_body(request), ctx)


@router.delete("/users/{user_id}")
def deactivate_user(user_id: str, request: Request) -> dict[str, Any]:
    """Deactivate (users are never deleted: their records and audit entries keep pointing at them)."""
    admin, ctx = _admin(request)
    return admin.deactivate_user(parse_id(user_id), ctx)


@router.put(
    "/users/{user_id}/roles",
    openapi_extra=_body(ROLES_BODY),
)
async def set_user_roles(user_id: str, request: Request) -> dict[str, Any]:
    admin, ctx = _admin(request)
    ident = parse_id(user_id)
    body = await json_object(request)
    if set(body) != {"roles"}:
        raise BadRequest('send {"roles": [...]} with the complete list of role ids')
    return admin.set_user_roles(ident, body["roles"], ctx)


# departments ------------------------------------------------------------------------------------
@router.get("/departments", openapi_extra={"parameters": [_q("tree", {"type": "boolean"}, "nested tree")]})
def list_departments(request: Request) -> list[dict[str, Any]]:
    admin, _ = _admin(request)
    return admin.department_tree() if _flag(request, "tree") else admin.list_departments()


@router.post("/departments", status_code=201, openapi_extra=_body(DEPARTMENT_SCHEMA))
async def create_department(request: Request) -> dict[str, Any]:
    admin, _ = _admin(request)
    return admin.create_department(await json_body(request))


@router.get("/departments/{dept_id}")
def get_department(dept_id: str, request: Request) -> dict[str, Any]:
    admin, _ = _admin(request)
    return admin.get_department(parse_id(dept_id))


@router.patch("/departments/{dept_id}", openapi_extra=_body(DEPARTMENT_SCHEMA))
async def update_department(dept_id: str, request: Request) -> dict[str, Any]:
    admin, _ = _admin(request)
    ident = parse_id(dept_id)
    return admin.update_department(ident, await json_body(request))


@router.delete("/departments/{dept_id}", status_code=204)
def delete_department(dept_id: str, request: Request) -> Response:
    admin, _ = _admin(request)
    admin.delete_department(parse_id(dept_id))
    return Response(status_code=204)


# roles ------------------------------------------------------------------------------------------
def _role_id(raw: str) -> str:
    if not raw or len(raw) > 40 or not raw.isascii():
        raise NotFound(f"no role '{raw[:40]}'")
    return raw


@router.get("/roles")
def list_roles(request: Request) -> list[dict[str, Any]]:
    admin, _ = _admin(request)
    return admin.list_roles()


@router.post("/roles", status_code=201, openapi_extra=_body(ROLE_SCHEMA))
async def create_role(request: Request) -> dict[str, Any]:
    admin, _ = _admin(request)
    return admin.create_role(await json_body(request))


@router.get("/roles/{role_id}")
def get_role(role_id: str, request: Request) -> dict[str, Any]:
    admin, _ = _admin(request)
    return admin.get_role(_role_id(role_id))


@router.put("/roles/{role_id}", openapi_extra=_body(ROLE_SCHEMA))
async def update_role(role_id: str, request: Request) -> dict[str, Any]:
    """Replace a role's definition; a shipped role stays customised until it is reset."""
    admin, _ = _admin(request)
    ident = _role_id(role_id)
    return admin.update_role(ident, await json_body(request))


@router.post("/roles/{role_id}/reset")
def reset_role(role_id: str, request: Request) -> dict[str, Any]:
    admin, _ = _admin(request)
    return admin.reset_role(_role_id(role_id))


@router.delete("/roles/{role_id}", status_code=204)
def delete_role(role_id: str, request: Request) -> Response:
    admin, _ = _admin(request)
    admin.delete_role(_role_id(role_id))
    return Response(status_code=204)
