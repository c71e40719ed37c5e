"""Friendly error pages for UI routes; API routes keep their JSON errors.

create_app installs JSON handlers for the API. The UI wraps each of them: a request for a page
(anything outside /api/ and /static/) gets an HTML page in the user's language, with the
request id on a 500 and never a stack trace; every other request goes to the original handler.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from runtime.api.deps import optional_user
from runtime.api.errors import UnexpectedErrorMiddleware, log_unexpected
from runtime.errors import TesseraError
from ui.csrf import CsrfRejected
from ui.session import LoginRequired, is_htmx, login_url
from ui.templating import render

log = logging.getLogger("tessera.ui")
Handler = Callable[[Request, Exception], Awaitable[Response]]
API_PREFIXES = ("/api/", "/static/", "/healthz")


def is_page_request(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIXES)


def error_page(
    request: Request, status: int, title_key: str, body: str | None = None, body_key: str | None = None
) -> Response:
    try:
        user = optional_user(request)
    except Exception:  # noqa: BLE001 - an error page must render even when the database is down
        user = None
    response = render(
        request,
        "error.html",
        user,
        status=status,
        error_status=status,
        title_key=title_key,
        body=body,
        body_key=body_key,
        page_title=title_key,
    )
    return response


def _login_redirect(request: Request, exc: LoginRequired) -> Response:
    target = login_url(exc.next_url)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def install_error_pages(app: FastAPI) -> None:
    """Wrap the API's handlers so page requests get HTML; must run after create_app installed them."""

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return _login_redirect(request, exc)

    async def csrf_rejected(request: Request, exc: Exception) -> Response:
        return error_page(request, 403, "errors.403.title", body_key="errors.csrf.body")

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(CsrfRejected, csrf_rejected)
    handlers = app.exception_handlers

    def wrap(exc_class: type[Exception], page: Callable[[Request, Exception], Response]) -> None:
        original: Handler | None = handlers.get(exc_class)  # type: ignore[assignment]

        async def handler(request: Request, exc: Exception) -> Response:
            if is_page_request(request) or original is None:
                return page(request, exc)
            return await original(request, exc)

        app.add_exception_handler(exc_class, handler)

    wrap(TesseraError, _tessera_page)
    wrap(StarletteHTTPException, _http_page)
    wrap(OperationalError, lambda r, e: error_page(r, 503, "errors.503.title", body_key="errors.503.body"))
    # every path except the API's: pages get the friendly 500 page instead of a dropped connection
    app.add_middleware(UnexpectedErrorMiddleware, prefixes=API_PREFIXES, respond=_unexpected_page_logged, exclude=True)


async def _unexpected_page_logged(request: Request, exc: Exception) -> Response:
    """The friendly 500 page, after storing the error in the administrators' error log with this request id."""
    await log_unexpected(request, exc)
    return _unexpected_page(request, exc)


def _tessera_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TesseraError)
    if exc.status == 404:
        return error_page(request, 404, "errors.404.title", body_key="errors.404.body")
    if exc.status == 401:
        return _login_redirect(request, LoginRequired(request.url.path))
    titles = {403: "errors.403.title", 409: "errors.409.title"}
    return error_page(request, exc.status, titles.get(exc.status, "errors.400.title"), body=exc.message)


def _http_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_page(request, 404, "errors.404.title", body_key="errors.404.body")
    if exc.status_code == 403:
        return error_page(request, 403, "errors.403.title", body_key="errors.403.body")
    return error_page(request, exc.status_code, "errors.400.title", body=str(exc.detail))


def _unexpected_page(request: Request, exc: Exception) -> Response:
    log.error(
        "unhandled error on page %s [%s]",
        request.url.path,
        getattr(request.state, "request_id", "-"),
        exc_info=exc,
    )
    return error_page(request, 500, "errors.500.title", body_key="errors.500.body")
