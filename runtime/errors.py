"""Errors the runtime raises on purpose; the API maps each to one HTTP status with a clear body."""

from __future__ import annotations

from runtime.validation.errors import FieldError


class TesseraError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class NotFound(TesseraError):
    status = 404
    code = "not_found"


class BadRequest(TesseraError):
    status = 400
    code = "bad_request"


class Conflict(TesseraError):
    status = 409
    code = "conflict"


class StaleVersion(Conflict):
    """Someone else saved the record since it was read: never overwrite their change silently."""

    code = "stale_version"

    def __init__(self, message: str, current_version: int):
        super().__init__(message)
        self.current_version = current_version


class Forbidden(TesseraError):
    status = 403
    code = "forbidden"


class RecordInvalid(TesseraError):
    status = 422
    code = "invalid"

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field or 'record'}: {e.message}" for e in errors))
