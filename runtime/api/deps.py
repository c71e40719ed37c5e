"""Request-scoped helpers: the services container, the signed-in user, the records context, JSON bodies.

Who is calling (PL-21):
* :func:`current_user` is what every API route calls. It accepts an API token
  (``Authorization: Bearer tsr_...``; exempt from CSRF since no cookie is involved) or the signed
  session cookie. A session request with an unsafe method (POST/PUT/PATCH/DELETE) must carry the
  session's CSRF token in ``X-CSRF-Token`` or is refused with 403 ``csrf_failed``.
* :func:`optional_user` reads the session cookie only (pages never accept API tokens). A session
  is valid while its stored epoch equals the account's ``session_epoch``.
* :func:`sign_in` starts a session; the CSRF token lives in ``session["csrf_token"]``, the same key
  the web UI uses (ui/csrf.py), so pages and scripts share one token.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import secrets
from typing import Any

from fastapi import Request

from runtime.clock import Clock
from runtime.errors import BadRequest, Forbidden, NotFound, TesseraError
from runtime.identity.reset import ResetTokens
from runtime.identity.throttle import LoginGuard
from runtime.identity.tokens import ApiTokens, TokenAuth, TokenRejected
from runtime.identity.users import User
from runtime.mail import Mailer, mailer_from_settings
from runtime.records import Context
from runtime.services import Tessera

MAX_BODY = 5 * 1024 * 1024
MAX_ID = 2**63 - 1


class Unauthenticated(TesseraError):
    status = 401
    code = "unauthenticated"


class CsrfFailed(Forbidden):
    code = "csrf_failed"


# The session key and header the web UI uses too (ui/csrf.py): one token per signed-in session.
CSRF_SESSION_KEY = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
SESSION_USER = "user_id"
SESSION_EPOCH = "epoch"


def tessera(request: Request) -> Tessera:
    return request.app.state.tessera


def clock(request: Request) -> Clock:
    return tessera(request).clock


def client_ip(request: Request) -> str | None:
    """The peer address (uvicorn replaces it with X-Forwarded-For only when run with --proxy-headers)."""
    return request.client.host if request.client else None


# Sessions ------------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created when missing (same rules as ui.csrf.csrf_token)."""
    token = request.session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_SESSION_KEY] = token
    return token


def sign_in(request: Request, user: User) -> str:
    """Start a fresh session for ``user`` (after a LoginGuard check): remembers the account's session
    epoch, so "logout everywhere" and password changes end it, and a new CSRF token, which it returns.
    Every sign-in path, API or page, must use this."""
    request.session.clear()
    request.session[SESSION_USER] = user.id
    request.session[SESSION_EPOCH] = user.session_epoch
    request.session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)
    request.state.user = user
    return request.session[CSRF_SESSION_KEY]


def check_csrf(request: Request) -> None:
    """A state-changing request made with the session cookie must echo the session's token in X-CSRF-Token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(CSRF_SESSION_KEY)
    supplied = request.headers.get(CSRF_HEADER, "")
    if not isinstance(expected, str) or not supplied or not hmac.compare_digest(expected, supplied):
        raise CsrfFailed(
            "missing or wrong X-CSRF-Token header: send the csrf_token from the login or /api/v1/auth/me answer"
            " (or use an API token: Authorization: Bearer tsr_...)"
        )


def optional_user(request: Request) -> User | None:
    """The user of the session cookie, if it is still valid (pages and API). API tokens are not looked at here."""
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    if "session" not in request.scope:
        return None
    user_id = request.session.get(SESSION_USER)
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    user = tessera(request).users.get(user_id)
    if user is None or request.session.get(SESSION_EPOCH, 0) != user.session_epoch:
        request.session.clear()  # deactivated, or signed out everywhere / password changed since
        return None
    request.state.user = user
    return user


def current_user(request: Request) -> User:
    """The API caller: an ``Authorization: Bearer`` API token, else the session cookie; state-changing
    session requests must carry the CSRF header. Raises 401 / 403."""
    cached = getattr(request.state, "user", None)
    if cached is not None and getattr(request.state, "auth", None) == "token":
        return cached
    header = request.headers.get("authorization")
    if header is not None:
        return _token_user(request, header)
    user = optional_user(request)
    if user is None:
        raise Unauthenticated("sign in first (POST /api/v1/auth/login) or send an API token")
    request.state.auth = "session"
    check_csrf(request)
    return user


def _token_user(request: Request, header: str) -> User:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise TokenRejected("send the API token as: Authorization: Bearer tsr_<prefix>_<secret>")
    auth = api_tokens(request).authenticate(value.strip())
    user = tessera(request).users.get(auth.user_id)
    if user is None:
        raise TokenRejected("the API token's account is deactivated")
    if auth.roles is not None:
        # Scoped to roles: never an administrator, so route-level `user.is_admin` checks refuse it too.
        request.state.token_owner_is_admin = user.is_admin
        user = dataclasses.replace(user, is_admin=False)
    request.state.user = user
    request.state.auth = "token"
    request.state.token = auth
    return user


def token_auth(request: Request) -> TokenAuth | None:
    """The API token this request authenticated with (None for sessions)."""
    return getattr(request.state, "token", None) if getattr(request.state, "auth", None) == "token" else None


# Services for the identity routes -----------------------------------------------------------------


def api_tokens(request: Request) -> ApiTokens:
    return ApiTokens(tessera(request).db, clock(request))


def login_guard(request: Request) -> LoginGuard:
    app = tessera(request)
    return LoginGuard(app.db, app.clock, params=getattr(app, "params", None))


def reset_tokens(request: Request) -> ResetTokens:
    return ResetTokens(tessera(request).db, clock(request))


def mailer(request: Request) -> Mailer:
    """The application's mailer: ``app.state.mailer`` if set, else built once from the settings."""
    found = getattr(request.app.state, "mailer", None)
    if found is None:
        found = mailer_from_settings(tessera(request).settings)
        request.app.state.mailer = found
    return found


def language(request: Request, user: User | None = None) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("lang")
    if lang in ("zh", "en"):
        return lang
    if user is not None:
        return user.language
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else "zh"


def context(request: Request, user: User, channel: str = "api") -> Context:
    """The records context. A role-scoped API token acts with only its roles: ``roles`` is set, and the
    permission engine then uses exactly those roles (for an administrator's token) or those the user
    also holds (anyone else), never administrator rights."""
    token = token_auth(request)
    if token is not None and token.roles is not None:
        return Context(
            user_id=user.id,
            channel=channel,
            lang=language(request, user),
            is_admin=bool(getattr(request.state, "token_owner_is_admin", False)),
            department_id=user.department_id,
            request_id=request.state.request_id,
            roles=token.roles,
        )
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
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:  # '²'.isdigit() is True
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
