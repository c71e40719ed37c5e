"""The published pack format schema and a validator per file kind."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMA_ID = "https://tessera.example/schema/pack-v1.json"
FILE_KINDS = ("manifest", "entity", "form", "view", "option_set", "menus", "demo_data", "role")


@cache
def pack_schema() -> dict[str, Any]:
    """The whole pack format as one JSON Schema document (served at /api/v1/schema/pack)."""
    text = resources.files("runtime.blueprints").joinpath("schema/pack-v1.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def validator_for(kind: str) -> Draft202012Validator:
    """A validator for one file kind, resolving $refs inside the published document."""
    if kind not in FILE_KINDS:
        raise KeyError(kind)
    root = pack_schema()
    registry = Registry().with_resource(SCHEMA_ID, Resource.from_contents(root))
    return Draft202012Validator({"$ref": f"{SCHEMA_ID}#/$defs/{kind}"}, registry=registry)
