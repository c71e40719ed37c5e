"""Every failure becomes a JSON body with a code, a plain message and the request id; never a stack trace.

The body shape is the same for all errors so clients need one parser:
{"error": {"code": "...", "message": "...", "request_id": "...", "errors": [per-field entries]}}
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.errorlog import record_error
from runtime.errors import RecordInvalid, StaleVersion, TesseraError

log = logging.getLogger("tessera.api")
API_PATHS = ("/api/", "/metrics", "/healthz")


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "-")


def error_response(request: Request, status: int, code: str, message: str, **extra: object) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "request_id": request_id(request), **extra}}
    return JSONResponse(body, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TesseraError)
    async def _tessera(request: Request, exc: TesseraError) -> JSONResponse:
        extra: dict = {}
        if isinstance(exc, RecordInvalid):
            extra["errors"] = [e.as_dict() for e in exc.errors]
        if isinstance(exc, StaleVersion):
            extra["current_version"] = exc.current_version
        return error_response(request, exc.status, exc.code, exc.message, **extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        return error_response(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"], "code": e["type"]}
            for e in exc.errors()
        ]
        return error_response(request, 422, "invalid", "the request parameters are not valid", errors=errors)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error [%s]: %s", request_id(request), exc.orig)
        return error_response(
            request,
            409,
            "conflict",
            "the change conflicts with another record (for example a value that must be unique); reload and try again",
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        log.warning("data error [%s]: %s", request_id(request), exc.orig)
        return error_response(request, 400, "bad_value", "a value is out of range or not valid for its field")

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable [%s]: %s", request_id(request), exc.orig)
        return error_response(request, 503, "unavailable", "the database is busy or unavailable; try again shortly")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return await unexpected_response(request, exc)

    app.add_middleware(UnexpectedErrorMiddleware)


async def unexpected_response(request: Request, exc: BaseException) -> JSONResponse:
    """The 500 answer: logged with its traceback, stored in the error log, the request id in body and header."""
    log.error("unhandled error [%s]", request_id(request), exc_info=exc)
    await log_unexpected(request, exc)
    response = error_response(
        request, 500, "internal", f"an unexpected error occurred; quote request id {request_id(request)} to support"
    )
    response.headers["X-Request-ID"] = request_id(request)  # answered outside the request-id middleware
    return response


Responder = Callable[[Request, Exception], Awaitable[Response]]


class UnexpectedErrorMiddleware:
    """Answer an unhandled exception here, as a normal response, for the paths it is given.

    Starlette's last-resort handler (where ``Exception`` handlers run) answers and then re-raises, so
    the server drops the connection and a keep-alive client's next request fails with a reset. The API
    installs it for its own paths with the JSON answer; the web UI installs it for pages with its
    friendly error page. A response already started cannot be replaced: then the error propagates.
    """

    def __init__(
        self,
        app: ASGIApp,
        prefixes: tuple[str, ...] = API_PATHS,
        *,
        respond: Responder | None = None,
        exclude: bool = False,
    ):
        self.app = app
        self.prefixes = prefixes
        self.respond = respond or unexpected_response
        self.exclude = exclude  # True: handle every path except these prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.prefixes) == self.exclude:
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise  # half a response is out: nothing better to do than drop the connection
            response = await self.respond(Request(scope, receive), exc)
            await response(scope, receive, send)


async def log_unexpected(request: Request, exc: BaseException) -> int | None:
    """Store an unhandled exception in the error log (PL-21); never raises. Also for the UI's error page."""
    try:
        app = request.app.state.tessera
        user = getattr(request.state, "user", None)
        session = request.scope.get("session") or {}
        user_id = getattr(user, "id", None) or session.get("user_id")
        return await run_in_threadpool(
            record_error,
            app.db,
            exc,
            request_id=request_id(request),
            method=request.method,
            path=request.url.path,
            user_id=user_id,
            at=app.clock.now(),
        )
    except Exception:  # noqa: BLE001 - the last-resort handler must answer whatever happens here
        log.exception("could not write the error log [%s]", request_id(request))
        return None
