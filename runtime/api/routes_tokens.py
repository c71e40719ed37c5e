"""API token management (PL-21). Tokens are managed from a signed-in session, never with a token.

POST   /api/v1/tokens        {"name", "roles": [...]?, "expires_at": ISO?, "expires_in_days": n?,
                              "user_id": n? (administrators only)}
                             -> 201 with "token": the raw token, shown this once and never again
GET    /api/v1/tokens        one's own tokens; administrators: ?user_id=N or ?all=true
                             (prefix, name, roles, created, expires, last used, revoked; never the token)
DELETE /api/v1/tokens/{id}   revoke (the owner or an administrator); the row stays for the record

Roles narrow a token to those roles (a non-administrator may only choose roles they hold); no roles
means the token acts with all its user's rights.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from runtime.api.deps import client_ip, current_user, json_object, record_id, tessera, token_auth
from runtime.api.routes_auth import body_doc
from runtime.errors import BadRequest, Forbidden, NotFound
from runtime.identity.events import Caller
from runtime.identity.token_service import MAX_DAYS, parse_expiry
from runtime.identity.token_service import create_token as create_logged
from runtime.identity.token_service import revoke_token as revoke_logged
from runtime.identity.tokens import ApiTokens
from runtime.identity.users import User

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
ROLE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")


def _manager(request: Request) -> tuple[User, ApiTokens]:
    user = current_user(request)
    if token_auth(request) is not None:
        raise Forbidden("API tokens are managed from a signed-in session, not with another API token")
    app = tessera(request)
    return user, ApiTokens(app.db, app.clock)


def _caller(request: Request) -> Caller:
    return Caller(client_ip(request), request.state.request_id)


@router.post(
    "",
    status_code=201,
    openapi_extra=body_doc(
        ["name"],
        name={"type": "string", "minLength": 1, "maxLength": 100},
        roles={"type": "array", "items": {"type": "string"}},
        expires_at={"type": "string", "format": "date-time"},
        expires_in_days={"type": "integer", "minimum": 1, "maximum": MAX_DAYS},
        user_id={"type": "integer", "minimum": 1},
    ),
)
async def create_token(request: Request) -> JSONResponse:
    user, tokens = _manager(request)
    body = await json_object(request)
    name, roles, owner_id = body.get("name"), body.get("roles", []), body.get("user_id")
    if not isinstance(name, str):
        raise BadRequest("name: give the token a name, such as the system that will use it")
    if roles is None:
        roles = []
    if not isinstance(roles, list) or not all(isinstance(r, str) and ROLE_ID.fullmatch(r) for r in roles):
        raise BadRequest("roles: a list of role ids")
    owner = user
    if owner_id is not None and owner_id != user.id:
        if not user.is_admin:
            raise Forbidden("only administrators create tokens for other users")
        if isinstance(owner_id, bool) or not isinstance(owner_id, int):
            raise BadRequest("user_id: a user id")
        found = tessera(request).users.get(owner_id) if 0 < owner_id < 2**63 else None
        if found is None:
            raise BadRequest(f"user_id: no active user {owner_id}")
        owner = found
    expires_at = parse_expiry(body.get("expires_at"), body.get("expires_in_days"), tokens.clock.now())
    raw, info = create_logged(
        tessera(request), user, owner, name, roles=roles, expires_at=expires_at, caller=_caller(request)
    )
    return JSONResponse(
        {**info.as_dict(), "token": raw},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "",
    openapi_extra={
        "parameters": [
            {"name": "user_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {"name": "all", "in": "query", "schema": {"type": "boolean"}},
        ]
    },
)
def list_tokens(request: Request) -> dict[str, Any]:
    user, tokens = _manager(request)
    raw_user = request.query_params.get("user_id")
    everyone = request.query_params.get("all") in ("1", "true")
    others = everyone or (raw_user is not None and raw_user != str(user.id))
    if others and not user.is_admin:
        raise Forbidden("only administrators list other users' tokens")
    owner: int | None = user.id
    if everyone:
        owner = None
    elif raw_user:
        owner = record_id(raw_user)
    return {"items": [info.as_dict() for info in tokens.list(owner)]}


@router.delete("/{token_id}")
def revoke_token(token_id: str, request: Request) -> dict[str, Any]:
    user, tokens = _manager(request)
    info = tokens.get(record_id(token_id))
    if info.user_id != user.id and not user.is_admin:
        raise NotFound(f"no API token {token_id}")
    return revoke_logged(tessera(request), user, info, caller=_caller(request)).as_dict()
