"""Forgot password / reset password pages (PL-21), for people who cannot sign in.

``/forgot-password`` always answers with the same neutral page whether or not the account exists,
and mails the link after the answer has been sent (a background task), so neither the text nor the
time taken reveals anything. It goes through runtime.identity.reset_mail like the API, so the same
per-account limit on open links applies. ``/reset-password?token=...`` checks the link before
showing the form, so a used or expired link gets a clear page with a way to ask for a new one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.background import BackgroundTask

from runtime.api.deps import language, mailer, reset_tokens
from runtime.api.deps import tessera as get_tessera
from runtime.identity.account import MAX_PASSWORD
from runtime.identity.policy import PasswordRejected, violations
from runtime.identity.reset import ResetTokenInvalid
from runtime.identity.reset_mail import complete_reset, request_reset, reset_account, send_quietly
from ui.i18n import t
from ui.routes.account_common import RESET_MINUTES, password_rules, ui_caller
from ui.session import flash, page_language
from ui.templating import render

router = APIRouter()
MAX_NAME = 254


@router.get("/forgot-password")
def forgot_page(request: Request) -> Response:
    return render(request, "account/forgot.html", None, page_title="account.forgot.title", name="", error=None)


@router.post("/forgot-password")
async def forgot(request: Request) -> Response:
    lang = page_language(request, None)
    form = await request.form()
    raw = str(form.get("name") or "")[:MAX_NAME]
    name = raw.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8").strip()
    if not name:
        error = t(lang, "account.forgot.missing")
        return render(
            request, "account/forgot.html", None, status=422, page_title="account.forgot.title", name=raw, error=error
        )
    mail = request_reset(
        get_tessera(request), reset_tokens(request), name, base_url=str(request.base_url), caller=ui_caller(request)
    )
    response = render(
        request, "account/forgot_sent.html", None, page_title="account.forgot.title", minutes=RESET_MINUTES
    )
    if mail is not None:
        response.background = BackgroundTask(send_quietly, mailer(request), mail)
    return response


def _invalid(request: Request) -> Response:
    return render(
        request, "account/reset_invalid.html", None, status=400, page_title="account.reset.title", minutes=RESET_MINUTES
    )


def _form(request: Request, token: str, username: str, errors: dict[str, list[str]], status: int = 200) -> Response:
    lang = page_language(request, None)
    return render(
        request,
        "account/reset.html",
        None,
        status=status,
        page_title="account.reset.title",
        token=token,
        username=username,
        errors=errors,
        rules=password_rules(lang),
    )


@router.get("/reset-password")
def reset_page(request: Request, token: str = "") -> Response:
    app = get_tessera(request)
    try:
        user = reset_account(app, reset_tokens(request), token[:100], "invalid")
    except ResetTokenInvalid:
        return _invalid(request)
    return _form(request, token, user.username, {})


@router.post("/reset-password")
async def reset(request: Request) -> Response:
    app, resets = get_tessera(request), reset_tokens(request)
    form = await request.form()
    token = str(form.get("token") or "")[:100]
    password = str(form.get("new_password") or "")[: MAX_PASSWORD + 1]
    repeat = str(form.get("repeat_password") or "")[: MAX_PASSWORD + 1]
    try:
        user = reset_account(app, resets, token, "invalid")
    except ResetTokenInvalid:
        return _invalid(request)
    lang = language(request, user)
    errors: dict[str, list[str]] = {}
    broken = [v.message(lang) for v in violations(password, user.username)]
    if broken:
        errors["new_password"] = broken
    elif password != repeat:
        errors["repeat_password"] = [t(lang, "account.password.mismatch")]
    if not errors:
        try:
            complete_reset(
                app, resets, token, password, caller=ui_caller(request), invalid="invalid", lang_for=lambda _: lang
            )
        except ResetTokenInvalid:  # used up by a simultaneous request a moment ago
            return _invalid(request)
        except PasswordRejected as exc:
            errors["new_password"] = [v.message(lang) for v in exc.violations]
    if errors:
        return _form(request, token, user.username, errors, status=422)
    request.session.clear()  # whoever was signed in on this browser: the reset ended the account's sessions
    flash(request, "success", t(lang, "account.reset.done"))
    return RedirectResponse("/login", status_code=303)
