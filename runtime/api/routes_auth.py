"""Sign-in for the browser and for scripts (PL-21): a signed, HttpOnly, SameSite session cookie.

POST /api/v1/auth/login                   {"username","password"} -> the user and its csrf_token
                                          401 wrong_credentials, 423 locked (+ locked_until), 429 throttled
POST /api/v1/auth/logout                  end this session
POST /api/v1/auth/logout-everywhere       end every session of the account (bumps its session epoch)
GET  /api/v1/auth/me                      who is signed in (+ csrf_token for sessions)
POST /api/v1/auth/password                {"current_password","password"}: change one's own password
POST /api/v1/auth/password-reset          {"username"} or {"email"}: always 202; e-mails a one-time link
POST /api/v1/auth/password-reset/confirm  {"token","password"}: set the password with the link's token

Session requests that change state need the X-CSRF-Token header (see deps.current_user); login and
the password-reset endpoints are exempt because they do not act on a session.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from runtime.api.deps import (
    Unauthenticated,
    check_csrf,
    client_ip,
    csrf_token,
    current_user,
    json_object,
    language,
    login_guard,
    mailer,
    optional_user,
    reset_tokens,
    sign_in,
    tessera,
    token_auth,
)
from runtime.api.errors import error_response
from runtime.errors import BadRequest, Forbidden
from runtime.identity.account import MAX_PASSWORD, WrongCurrentPassword, change_own_password
from runtime.identity.account import logout_everywhere as end_every_session
from runtime.identity.events import Caller, log_identity_event
from runtime.identity.policy import PasswordRejected
from runtime.identity.reset_mail import complete_reset, request_reset, send_quietly
from runtime.identity.throttle import AccountLocked, TooManyAttempts
from runtime.identity.users import User

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def body_doc(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI for a JSON body the route reads itself, so integrators and schema-driven fuzzers see it."""
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


TEXT = {"type": "string"}
__all__ = ["WrongCurrentPassword", "body_doc", "router"]


def _user_body(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "is_admin": user.is_admin,
        "language": user.language,
    }


def _clean(value: str) -> str:
    """Names are looked up in the database: NUL and lone surrogates cannot be stored there, so drop them."""
    return value.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")


def _name(body: dict[str, Any], key: str, limit: int) -> str | None:
    value = body.get(key)
    if not isinstance(value, str):
        return None
    return _clean(value[:limit]).strip() or None


def _caller(request: Request) -> Caller:
    return Caller(client_ip(request), request.state.request_id)


def _oplog(request: Request, kind: str, user: User | None, username: str | None = None, **detail: Any) -> None:
    log_identity_event(tessera(request), kind, _caller(request), user, username=username, **detail)


def _refusal(request: Request, exc: AccountLocked | TooManyAttempts | PasswordRejected) -> JSONResponse:
    """423 with the unlock time, 429 with Retry-After, 400 with one entry per broken password rule."""
    if isinstance(exc, AccountLocked):
        until = exc.locked_until.isoformat(timespec="seconds")
        return error_response(request, exc.status, exc.code, exc.message, locked_until=until)
    if isinstance(exc, TooManyAttempts):
        response = error_response(request, exc.status, exc.code, exc.message, retry_after=exc.retry_after)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return error_response(request, exc.status, exc.code, exc.message, errors=exc.as_dicts())


@router.post(
    "/login",
    response_model=None,
    openapi_extra=body_doc(["username", "password"], username={"type": "string", "maxLength": 64}, password=TEXT),
)
async def login(request: Request) -> dict[str, Any] | JSONResponse:
    body = await json_object(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise Unauthenticated("send username and password")
    username = _clean(username)
    guard = login_guard(request)
    try:
        user = guard.login(
            username[:64],
            password[:MAX_PASSWORD],
            ip=client_ip(request),
            request_id=request.state.request_id,
            lang=language(request),
        )
    except (AccountLocked, TooManyAttempts) as exc:
        return _refusal(request, exc)
    token = sign_in(request, user)
    return {**_user_body(user), "csrf_token": token}


@router.post("/logout")
def logout(request: Request) -> dict[str, bool]:
    user = optional_user(request)
    if user is not None:
        check_csrf(request)
        _oplog(request, "logout", user)
    request.session.clear()
    return {"ok": True}


@router.post("/logout-everywhere")
def logout_everywhere(request: Request) -> dict[str, Any]:
    """Every session of the account ends, this one included; API tokens stay valid (revoke them separately)."""
    user = current_user(request)
    end_every_session(tessera(request), user, caller=_caller(request))
    if token_auth(request) is None:
        request.session.clear()
    return {"ok": True}


@router.get("/me")
def me(request: Request) -> dict[str, Any]:
    user = current_user(request)
    token = token_auth(request)
    if token is not None:
        return {**_user_body(user), "auth": "token", "token_id": token.token_id, "roles": token.roles}
    return {**_user_body(user), "auth": "session", "csrf_token": csrf_token(request)}


@router.post(
    "/password",
    response_model=None,
    openapi_extra=body_doc(["current_password", "password"], current_password=TEXT, password=TEXT),
)
async def change_password(request: Request) -> dict[str, Any] | JSONResponse:
    """Change one's own password: needs the current one; other sessions are signed out, this one stays."""
    user = current_user(request)
    if token_auth(request) is not None:
        raise Forbidden("an API token cannot change the account's password; sign in with a session")
    body = await json_object(request)
    current, new = body.get("current_password"), body.get("password")
    if not isinstance(current, str) or not current or not isinstance(new, str):
        raise BadRequest("send current_password and password")
    lang = language(request, user)
    app = tessera(request)
    try:
        epoch = change_own_password(app, login_guard(request), user, current, new, caller=_caller(request), lang=lang)
    except (AccountLocked, TooManyAttempts, PasswordRejected) as exc:
        return _refusal(request, exc)
    fresh = app.users.get(user.id)
    token = sign_in(request, fresh or user)
    return {"ok": True, "csrf_token": token, "session_epoch": epoch}


@router.post(
    "/password-reset",
    status_code=202,
    openapi_extra=body_doc(
        [], username={"type": "string", "maxLength": 64}, email={"type": "string", "maxLength": 254}
    ),
)
async def request_password_reset(request: Request) -> JSONResponse:
    """Always 202 with the same body, whether or not the account exists (no account enumeration).
    The mail is sent after the answer, so its duration does not reveal anything either."""
    body = await json_object(request)
    name = _name(body, "username", 64) or _name(body, "email", 254)
    if name is None:
        raise BadRequest("send username or email")
    lang = language(request)
    mail = request_reset(
        tessera(request), reset_tokens(request), name, base_url=str(request.base_url), caller=_caller(request)
    )
    task = BackgroundTask(send_quietly, mailer(request), mail) if mail is not None else None
    message = (
        "如果该账户存在并登记了邮箱，我们已发送一封包含重置链接的邮件，请在 30 分钟内使用。"
        if lang == "zh"
        else "If the account exists and has an e-mail address, a reset link was sent to it; it is valid for 30 minutes."
    )
    return JSONResponse({"ok": True, "message": message}, status_code=202, background=task)


@router.post(
    "/password-reset/confirm",
    response_model=None,
    openapi_extra=body_doc(["token", "password"], token=TEXT, password=TEXT),
)
async def confirm_password_reset(request: Request) -> dict[str, Any] | JSONResponse:
    """Set the password with the mailed token: rules applied, token used up, lockout cleared, sessions ended."""
    body = await json_object(request)
    token, password = body.get("token"), body.get("password")
    if not isinstance(token, str) or not isinstance(password, str):
        raise BadRequest("send token and password")
    lang = language(request)
    invalid = (
        "重置链接无效、已使用或已过期，请重新申请" if lang == "zh" else "this reset link is invalid, used or expired"
    )
    try:
        complete_reset(
            tessera(request),
            reset_tokens(request),
            token,
            password,
            caller=_caller(request),
            invalid=invalid,
            lang_for=lambda user: language(request, user),
        )
    except PasswordRejected as exc:
        return _refusal(request, exc)
    return {"ok": True}
