"""Request-scoped helpers: the services container, the signed-in user, the records context, JSON bodies."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from runtime.errors import BadRequest, NotFound, TesseraError
from runtime.identity.users import User
from runtime.records import Context
from runtime.services import Tessera

MAX_BODY = 5 * 1024 * 1024
MAX_ID = 2**63 - 1


class Unauthenticated(TesseraError):
    status = 401
    code = "unauthenticated"


def tessera(request: Request) -> Tessera:
    return request.app.state.tessera


def current_user(request: Request) -> User:
    user = optional_user(request)
    if user is None:
        raise Unauthenticated("sign in first (POST /api/v1/auth/login) or send an API token")
    return user


def optional_user(request: Request) -> User | None:
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    user_id = request.session.get("user_id") if "session" in request.scope else None
    if not isinstance(user_id, int):
        return None
    user = tessera(request).users.get(user_id)
    request.state.user = user
    return user


def language(request: Request, user: User | None = None) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("lang")
    if lang in ("zh", "en"):
        return lang
    if user is not None:
        return user.language
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else "zh"


def context(request: Request, user: User, channel: str = "api") -> Context:
    return Context(
        user_id=user.id,
        channel=channel,
        lang=language(request, user),
        is_admin=user.is_admin,
        department_id=user.department_id,
        request_id=request.state.request_id,
    )


def record_id(raw: str) -> int:
    """Path ids are parsed here so that 'abc' or a 30-digit number is a 404, not a 422 or a database error."""
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise NotFound(f"no record with id '{raw[:40]}'")
    return int(raw)


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON (Python accepts them); no field can store them."""
    raise BadRequest(f"malformed JSON: {name} is not a valid JSON number")


async def json_body(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BadRequest("the request body is larger than 5 MB")
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise BadRequest("the request body is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc


async def json_object(request: Request) -> dict[str, Any]:
    data = await json_body(request)
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    return data
