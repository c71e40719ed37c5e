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
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from runtime.api.deps import client_ip, current_user, json_object, record_id, tessera, token_auth
from runtime.api.routes_auth import body_doc
from runtime.errors import BadRequest, Forbidden, NotFound
from runtime.identity.tokens import ApiTokens, TokenInfo
from runtime.identity.users import User
from runtime.oplog import record_operation

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
MAX_DAYS = 3650
ROLE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")


def _manager(request: Request) -> tuple[User, ApiTokens]:
    user = current_user(request)
    if token_auth(request) is not None:
        raise Forbidden("API tokens are managed from a signed-in session, not with another API token")
    app = tessera(request)
    return user, ApiTokens(app.db, app.clock)


def _oplog(request: Request, kind: str, user: User, info: TokenInfo) -> None:
    app = tessera(request)
    record_operation(
        app.db,
        kind,
        actor_id=user.id,
        username=user.username,
        ip=client_ip(request),
        request_id=request.state.request_id,
        detail={"token_id": info.id, "prefix": info.prefix, "name": info.name, "owner_id": info.user_id},
        at=app.clock.now(),
    )


def _expiry(body: dict[str, Any], now: datetime) -> datetime | None:
    raw, days = body.get("expires_at"), body.get("expires_in_days")
    if raw is not None and days is not None:
        raise BadRequest("send expires_at or expires_in_days, not both")
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise BadRequest(f"expires_in_days: a whole number from 1 to {MAX_DAYS}")
        return now + timedelta(days=days)
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise BadRequest("expires_at: an ISO 8601 date-time such as 2027-01-31T18:00:00Z")
    try:
        at = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadRequest("expires_at: an ISO 8601 date-time such as 2027-01-31T18:00:00Z") from exc
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    if at > now + timedelta(days=MAX_DAYS):
        raise BadRequest(f"expires_at: at most {MAX_DAYS} days ahead")
    return at


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
    raw, info = tokens.create(
        owner.id, name, is_admin=owner.is_admin, roles=roles, expires_at=_expiry(body, tokens.clock.now())
    )
    _oplog(request, "token_created", user, info)
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
    revoked = tokens.revoke(info.id)
    if info.revoked_at is None:
        _oplog(request, "token_revoked", user, revoked)
    return revoked.as_dict()
