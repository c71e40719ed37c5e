"""OpenAPI generated from metadata: one concrete path pair per deployed entity, with its JSON Schema.

The generic routes (/records/{entity}) serve every entity; the document lists each entity's own
paths and body schema instead, so integrators (and schema-driven fuzzers) see real field names.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from runtime.blueprints.model import label_text
from runtime.records.query import OPS
from runtime.services import Tessera

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "object"}},
                "current_version": {"type": "integer"},
            },
        }
    },
}


def _responses(*codes: int) -> dict[str, Any]:
    text = {
        400: "malformed request",
        401: "not signed in",
        404: "unknown entity or record",
        409: "stale version or still referenced",
        422: "invalid fields (one entry per field)",
    }
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}} for c in codes}


def _record_schema(name: str) -> dict[str, Any]:
    return {
        "allOf": [{"$ref": f"#/components/schemas/{name}Input"}, {"$ref": "#/components/schemas/RecordSystemFields"}]
    }


def entity_paths(app: Tessera) -> tuple[dict[str, Any], dict[str, Any]]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "Error": ERROR_SCHEMA,
        "RecordSystemFields": {
            "type": "object",
            "properties": {
                k: {"type": ["integer", "null"]}
                for k in ("id", "version", "created_by", "updated_by", "owner_id", "department_id")
            }
            | {"created_at": {"type": "string"}, "updated_at": {"type": "string"}},
        },
    }
    for entity in app.registry.entities.values():
        name = "".join(p.capitalize() for p in entity.id.split("_"))
        schema = copy.deepcopy(app.registry.schema(entity.id))
        schema.pop("$schema", None)
        schema.pop("$id", None)
        schemas[f"{name}Input"] = schema
        patch = copy.deepcopy(schema)
        patch.pop("required", None)
        patch["properties"]["version"] = {"type": "integer", "minimum": 1}
        patch["required"] = ["version"]
        schemas[f"{name}Patch"] = patch
        title = label_text(entity.label, "en")
        filters = [
            {
                "name": f.name,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": f"{label_text(f.label, 'en')}: equals; also {f.name}__op with op in {', '.join(OPS)}",
            }
            for f in entity.fields
            if f.type != "child_table"
        ]
        paging = [
            {
                "name": "sort",
                "in": "query",
                "schema": {"type": "string"},
                "description": "comma-separated fields, '-' for descending",
            },
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
            {
                "name": "cursor",
                "in": "query",
                "schema": {"type": "string"},
                "description": "next_cursor of the previous page",
            },
            {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}},
            {"name": "count", "in": "query", "schema": {"enum": ["auto", "exact", "none"]}},
        ]
        item_path = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
        ok = lambda s: {"description": "the record", "content": {"application/json": {"schema": s}}}  # noqa: E731
        paths[f"/api/v1/records/{entity.id}"] = {
            "get": {
                "tags": [entity.id],
                "summary": f"List {title}",
                "operationId": f"list_{entity.id}",
                "parameters": filters + paging,
                "responses": {"200": {"description": "a page of records"}, **_responses(400, 401)},
            },
            "post": {
                "tags": [entity.id],
                "summary": f"Create {title}",
                "operationId": f"create_{entity.id}",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}Input"}}},
                },
                "responses": {"201": ok(_record_schema(name)), **_responses(400, 401, 422)},
            },
        }
        paths[f"/api/v1/records/{entity.id}/export"] = export_path(entity.id, title, filters, paging)
        paths[f"/api/v1/records/{entity.id}/{{id}}"] = {
            "get": {
                "tags": [entity.id],
                "summary": f"Read {title}",
                "operationId": f"get_{entity.id}",
                "parameters": [item_path],
                "responses": {"200": ok(_record_schema(name)), **_responses(401, 404)},
            },
            "patch": {
                "tags": [entity.id],
                "summary": f"Change {title}",
                "operationId": f"patch_{entity.id}",
                "parameters": [item_path],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}Patch"}}},
                },
                "responses": {"200": ok(_record_schema(name)), **_responses(400, 401, 404, 409, 422)},
            },
            "delete": {
                "tags": [entity.id],
                "summary": f"Delete {title}",
                "operationId": f"delete_{entity.id}",
                "parameters": [item_path],
                "responses": {"204": {"description": "deleted"}, **_responses(401, 404, 409)},
            },
        }
    return paths, schemas


def export_path(entity_id: str, title: str, filters: list[dict], paging: list[dict]) -> dict[str, Any]:
    """The export download: the list's filters, sort and search plus the file format (runtime.exports)."""
    kept = [p for p in paging if p["name"] in ("sort", "q")]
    extra = [
        {"name": "format", "in": "query", "schema": {"enum": ["csv", "xlsx"], "default": "csv"}},
        {"name": "view", "in": "query", "schema": {"type": "string"}, "description": "columns and search fields"},
    ]
    files = {
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {"type": "string", "format": "binary"}
        },
    }
    return {
        "get": {
            "tags": [entity_id],
            "summary": f"Export {title} (CSV or Excel)",
            "description": "Needs the export right; masked fields stay masked, hidden ones are left out.",
            "operationId": f"export_{entity_id}",
            "parameters": filters + kept + extra,
            "responses": {
                "200": {"description": "the file (Content-Disposition names it)", "content": files},
                "403": {"description": "no export right", "content": {"application/json": {"schema": ERROR}}},
                **_responses(400, 401, 404),
            },
        }
    }


SEARCH_PARAMETERS = [
    {
        "name": "q",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "minLength": 2, "maxLength": 200},
        "description": "text searched in every readable entity's search fields",
    }
]


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        tessera: Tessera = app.state.tessera
        key = tessera.registry.generation
        cached = getattr(app.state, "openapi_cache", None)
        if cached and cached[0] == key:
            return cached[1]
        doc = get_openapi(
            title="Tessera API",
            version="1",
            routes=app.routes,
            description="Records, metadata and files of the deployed blueprint packs. Errors share one JSON shape.",
        )
        generic = {  # listed per entity instead
            "/api/v1/records/{entity}",
            "/api/v1/records/{entity}/{rid}",
            "/api/v1/records/{entity}/export",
        }
        doc["paths"] = {p: v for p, v in doc["paths"].items() if p not in generic}
        if "/api/v1/search" in doc["paths"]:
            doc["paths"]["/api/v1/search"]["get"]["parameters"] = SEARCH_PARAMETERS
        paths, schemas = entity_paths(tessera)
        doc["paths"].update(paths)
        doc.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        app.state.openapi_cache = (key, doc)
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
