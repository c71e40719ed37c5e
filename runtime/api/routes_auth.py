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

import logging
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
from runtime.identity.policy import PasswordRejected, check_password
from runtime.identity.reset import VALIDITY, ResetTokenInvalid
from runtime.identity.throttle import AccountLocked, TooManyAttempts, WrongCredentials
from runtime.identity.users import User
from runtime.mail import Mailer, MailError
from runtime.oplog import record_operation

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def body_doc(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI for a JSON body the route reads itself, so integrators and schema-driven fuzzers see it."""
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


TEXT = {"type": "string"}
log = logging.getLogger("tessera.auth")
MAX_PASSWORD = 256


class WrongCurrentPassword(Forbidden):
    """403, not 401: the session is fine, only the password typed to confirm the change is wrong."""

    code = "wrong_password"


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


def _oplog(request: Request, kind: str, user: User | None, username: str | None = None, **detail: Any) -> None:
    record_operation(
        tessera(request).db,
        kind,
        actor_id=user.id if user else None,
        username=user.username if user else username,
        ip=client_ip(request),
        request_id=request.state.request_id,
        detail=detail,
        at=tessera(request).clock.now(),
    )


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
    epoch = tessera(request).users.bump_session_epoch(user.id)
    _oplog(request, "logout", user, everywhere=True, session_epoch=epoch)
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
        login_guard(request).verify_current_password(
            user, current[:MAX_PASSWORD], ip=client_ip(request), request_id=request.state.request_id, lang=lang
        )
        check_password(new, user.username, lang=lang)
    except (AccountLocked, TooManyAttempts, PasswordRejected) as exc:
        return _refusal(request, exc)
    except WrongCredentials as exc:
        raise WrongCurrentPassword("当前密码不正确" if lang == "zh" else "the current password is not correct") from exc
    epoch = app.users.set_password(user.id, new, enforce_policy=False, now=app.clock.now())
    _oplog(request, "password_reset", user, event="changed_by_user")
    fresh = app.users.get(user.id)
    token = sign_in(request, fresh or user)
    return {"ok": True, "csrf_token": token, "session_epoch": epoch}


def _reset_mail(lang: str, user: User, link: str) -> tuple[str, str, str]:
    minutes = int(VALIDITY.total_seconds() // 60)
    if lang == "en":
        subject = "Reset your Tessera password"
        text = (
            f"Hello {user.display_name},\n\n"
            f"Someone (hopefully you) asked to reset the password of the account '{user.username}'.\n"
            f"Open this link within {minutes} minutes to choose a new password (it works once):\n\n{link}\n\n"
            "If you did not ask for this, ignore this message: your password stays unchanged.\n"
        )
        html = (
            f"<p>Hello {_esc(user.display_name)},</p><p>Open this link within {minutes} minutes to choose a new "
            f'password for <b>{_esc(user.username)}</b> (it works once):</p><p><a href="{_esc(link)}">'
            f"{_esc(link)}</a></p><p>If you did not ask for this, ignore this message.</p>"
        )
    else:
        subject = "重置 Tessera 密码"
        text = (
            f"{user.display_name}，您好：\n\n"
            f"我们收到了重置账户“{user.username}”密码的请求。\n"
            f"请在 {minutes} 分钟内打开以下链接设置新密码（链接只能使用一次）：\n\n{link}\n\n"
            "如果这不是您本人的操作，请忽略此邮件，您的密码不会改变。\n"
        )
        html = (
            f"<p>{_esc(user.display_name)}，您好：</p><p>请在 {minutes} 分钟内打开以下链接为账户"
            f"<b>{_esc(user.username)}</b>设置新密码（链接只能使用一次）：</p>"
            f'<p><a href="{_esc(link)}">{_esc(link)}</a></p><p>如果这不是您本人的操作，请忽略此邮件。</p>'
        )
    return subject, text, html


def _esc(value: str) -> str:
    from html import escape

    return escape(value, quote=True)


def _send_quietly(sender: Mailer, to: str, subject: str, text: str, html: str) -> None:
    try:
        sender.send(to, subject, text, html=html)
    except MailError:
        log.exception("the password reset mail to %s could not be sent", to)


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
    app = tessera(request)
    user = app.users.by_login(name)
    task = None
    if user is not None and user.email:
        token = reset_tokens(request).issue(user.id)
        if token is not None:
            base = (app.settings.mail_base_url or str(request.base_url)).rstrip("/")
            subject, text, html = _reset_mail(user.language, user, f"{base}/reset-password?token={token}")
            task = BackgroundTask(_send_quietly, mailer(request), user.email, subject, text, html)
        _oplog(request, "password_reset", user, event="requested", mailed=token is not None)
    else:
        _oplog(request, "password_reset", None, username=name, event="requested", known=False)
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
    app = tessera(request)
    resets = reset_tokens(request)
    lang = language(request)
    invalid = (
        "重置链接无效、已使用或已过期，请重新申请" if lang == "zh" else "this reset link is invalid, used or expired"
    )
    user = app.users.get(resets.peek(token, invalid))
    if user is None:
        raise ResetTokenInvalid(invalid)
    lang = language(request, user)
    try:
        check_password(password, user.username, lang=lang)
    except PasswordRejected as exc:
        return _refusal(request, exc)
    resets.consume(token, invalid)
    app.users.set_password(user.id, password, enforce_policy=False, now=app.clock.now())
    _oplog(request, "password_reset", user, event="completed")
    return {"ok": True}
