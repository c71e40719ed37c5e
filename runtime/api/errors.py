"""Every failure becomes a JSON body with a code, a plain message and the request id; never a stack trace.

The body shape is the same for all errors so clients need one parser:
{"error": {"code": "...", "message": "...", "request_id": "...", "errors": [per-field entries]}}
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from runtime.errors import RecordInvalid, StaleVersion, TesseraError

log = logging.getLogger("tessera.api")


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
        log.exception("unhandled error [%s]", request_id(request))
        return error_response(
            request, 500, "internal", f"an unexpected error occurred; quote request id {request_id(request)} to support"
        )
