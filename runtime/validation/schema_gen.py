"""Entity blueprint -> JSON Schema (draft 2020-12) describing what a client may send for a record.

The schema describes the full record after defaults are applied; required fields must be present
and non-null. System fields and runtime-filled fields (computed, auto-number) are not part of it:
the records service strips or refuses them before validation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.blueprints.model import Entity, Field, label_text
from runtime.fields.types import field_type

OptionValues = Callable[[str], list[str]]


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    if "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    return out


def field_schema(f: Field, options: OptionValues) -> dict[str, Any]:
    if f.type == "child_table":
        return {"type": "array", "maxItems": 500, "items": _object_schema(f.children, options, row=True)}
    schema = field_type(f).schema(f, options)
    schema["title"] = label_text(f.label)
    return schema


def _object_schema(fields: list[Field], options: OptionValues, row: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in fields:
        if f.is_system_filled:
            continue
        schema = field_schema(f, options)
        if f.required:
            required.append(f.name)
        else:
            schema = _nullable(schema)
        properties[f.name] = schema
    if row:
        properties["id"] = {"type": ["integer", "null"]}
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def entity_schema(entity: Entity, options: OptionValues) -> dict[str, Any]:
    schema = _object_schema(entity.fields, options)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:tessera:entity:{entity.id}",
        "title": label_text(entity.label),
        **schema,
    }
