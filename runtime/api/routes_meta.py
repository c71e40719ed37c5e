"""Metadata: the pack format schema, entities with their fields and JSON Schemas, option sets, packs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from runtime.api.deps import context, current_user, json_body, language, tessera
from runtime.blueprints.errors import PackInvalid
from runtime.blueprints.model import Entity, label_text
from runtime.blueprints.schema import pack_schema, validator_for
from runtime.errors import BadRequest, Forbidden
from runtime.options import save_option_overrides

router = APIRouter(prefix="/api/v1", tags=["metadata"])


@router.get("/schema/pack")
def get_pack_schema() -> dict[str, Any]:
    """The published JSON Schema of blueprint pack format v1 (public: IT tools validate against it)."""
    return pack_schema()


def _entity_summary(entity: Entity, lang: str) -> dict[str, Any]:
    return {
        "id": entity.id,
        "label": label_text(entity.label, lang),
        "pack": entity.pack_id,
        "title_field": entity.title_field,
    }


@router.get("/entities")
def list_entities(request: Request) -> list[dict[str, Any]]:
    user = current_user(request)
    lang = language(request, user)
    return [_entity_summary(e, lang) for e in tessera(request).registry.entities.values()]


@router.get("/entities/{entity}")
def get_entity(entity: str, request: Request) -> dict[str, Any]:
    user = current_user(request)
    lang = language(request, user)
    ent = tessera(request).registry.entity(entity)
    return {**_entity_summary(ent, lang), "fields": [f.raw for f in ent.fields], "blueprint": ent.raw}


@router.get("/entities/{entity}/schema")
def get_entity_schema(entity: str, request: Request) -> dict[str, Any]:
    current_user(request)
    return tessera(request).registry.schema(entity)


@router.get("/option-sets")
def list_option_sets(request: Request) -> list[dict[str, Any]]:
    current_user(request)
    return [o.raw for o in tessera(request).registry.option_sets.values()]


@router.get("/option-sets/{set_id}")
def get_option_set(set_id: str, request: Request) -> dict[str, Any]:
    current_user(request)
    return tessera(request).registry.option_set(set_id).raw


@router.put("/option-sets/{set_id}")
async def put_option_set(set_id: str, request: Request) -> dict[str, Any]:
    """Administrators edit dictionaries at run time; existing values may be deactivated, never removed."""
    user = current_user(request)
    app = tessera(request)
    if not _may_edit_options(app, request, user, set_id):
        raise Forbidden("only administrators, or the roles the option set names in editable_by, may edit it")
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("options"), list):
        raise BadRequest('send {"options": [...]} with the full list of options')
    try:
        return save_option_overrides(app, set_id, body["options"], user.id)
    except PackInvalid as exc:
        raise BadRequest("; ".join(str(e) for e in exc.errors)) from exc


def _may_edit_options(app: Any, request: Request, user: Any, set_id: str) -> bool:
    """Administrators (the flag or the 'admin' right) edit every dictionary; an option set may also name the
    roles that keep it (``editable_by``), e.g. the development managers who maintain the patient-source tree,
    without making them administrators."""
    if user.is_admin:
        return True
    ctx = context(request, user)
    if app.permissions.has_right(ctx, "admin"):
        return True
    allowed = set(app.registry.option_set(set_id).raw.get("editable_by") or ())
    return bool(allowed & set(app.permissions.subject(ctx).roles))


@router.get("/packs")
def list_packs(request: Request) -> list[dict[str, Any]]:
    current_user(request)
    return [
        {"id": p.id, "version": p.version, "name": p.name, "entities": sorted(p.entities)}
        for p in tessera(request).registry.packs.values()
    ]


__all__ = ["router", "validator_for"]
