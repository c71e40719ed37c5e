"""Sign in, sign out and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from runtime.api.deps import client_ip, login_guard, optional_user, sign_in
from runtime.identity.throttle import AccountLocked, TooManyAttempts, WrongCredentials
from ui.i18n import LANGUAGES, t
from ui.session import flash, page_language, safe_next
from ui.templating import render

router = APIRouter()
LANG_COOKIE_AGE = 365 * 24 * 3600


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    if optional_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(
        request,
        "login.html",
        None,
        next_url=safe_next(next),
        username="",
        error=None,
        page_title="login.title",
    )


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")[:256]
    next_url = safe_next(str(form.get("next") or "/"))
    lang = page_language(request, None)
    user, error, status = None, t(lang, "login.missing"), 401
    if username and password:
        try:
            user = login_guard(request).login(
                username, password, ip=client_ip(request), request_id=request.state.request_id, lang=lang
            )
        except WrongCredentials:
            error = t(lang, "login.failed")
        except (AccountLocked, TooManyAttempts) as exc:
            error, status = exc.message, exc.status  # the guard's message says until when, in zh or en
    if user is None:
        return render(
            request,
            "login.html",
            None,
            status=status,
            next_url=next_url,
            username=username,
            error=error,
            page_title="login.title",
        )
    sign_in(request, user)  # remembers the session epoch: logout-everywhere and password changes end it
    return RedirectResponse(next_url, status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    lang = page_language(request, optional_user(request))
    request.session.clear()
    flash(request, "info", t(lang, "login.signed_out"))
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{code}")
def switch_language(code: str, request: Request, next: str = "/") -> Response:
    """Remember the choice in a cookie (read by every page and by the API's messages)."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=LANG_COOKIE_AGE, samesite="lax", httponly=False)
    return response
