"""Sign in, sign out and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from runtime.api.deps import optional_user, tessera
from ui.csrf import rotate_csrf_token
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
    user = tessera(request).users.authenticate(username, password) if username and password else None
    if user is None:
        error = t(lang, "login.failed" if username and password else "login.missing")
        return render(
            request,
            "login.html",
            None,
            status=401,
            next_url=next_url,
            username=username,
            error=error,
            page_title="login.title",
        )
    request.session.clear()
    request.session["user_id"] = user.id
    rotate_csrf_token(request)
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
