"""Task data must survive SpiffWorkflow's JSON serializer unchanged: dates become ISO text, sets and
non-JSON values are refused, and a key named ``typename`` (which breaks deserialization) is refused."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from runtime.errors import BadRequest


def json_safe(value: Any, path: str = "data") -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [json_safe(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise BadRequest(f"{path}: keys must be text, not {type(key).__name__}")
            if key == "typename":
                raise BadRequest(f"{path}: the key 'typename' is reserved by the workflow engine; rename it")
            out[key] = json_safe(item, f"{path}.{key}")
        return out
    if isinstance(value, set | frozenset):
        raise BadRequest(f"{path}: a set cannot be stored in workflow data; send a list")
    raise BadRequest(f"{path}: a {type(value).__name__} cannot be stored in workflow data")
