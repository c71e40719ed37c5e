"""The entity designer: /builder/{pack}/entities/{entity_id} (issue 7, part 2).

An entity is the data structure behind forms and views: its fields and their types, references
to other entities, child tables, unique and indexed flags, auto-number patterns and computed
fields. The page edits the entity document in the browser and saves it into the draft; a field
deleted here also leaves the pack's forms and list views in the same save, so the draft does not
fill up with "unknown field" problems the designer never caused on purpose.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from runtime.blueprints.model import label_text
from runtime.errors import BadRequest
from ui.designer.drafts import (
    Design,
    designer,
    folder_docs,
    json_body,
    option_set_docs,
    require_document,
    save_documents,
)
from ui.designer.pages import common_state, crumbs, render_designer
from ui.templating import Crumb, render

router = APIRouter()
VIEW_LISTS = ("columns", "quick_filters", "search_fields")


def _links(design: Design, entity_id: str) -> dict[str, list[dict[str, str]]]:
    """The entity's forms and views (to open their designers) and the entities pointing at it."""
    lang = design.lang
    documents = design.documents()
    forms = [
        {
            "id": fid,
            "label": label_text(doc.get("label"), lang) or fid,
            "href": f"/builder/{design.pack_id}/forms/{fid}",
        }
        for fid, doc in folder_docs(documents, "forms").items()
        if doc.get("entity") == entity_id
    ]
    views = [
        {
            "id": vid,
            "label": label_text(doc.get("label"), lang) or vid,
            "href": f"/builder/{design.pack_id}/views/{vid}",
        }
        for vid, doc in folder_docs(documents, "views").items()
        if doc.get("entity") == entity_id
    ]
    incoming = []
    for eid, doc in folder_docs(documents, "entities").items():
        for f in doc.get("fields", []):
            if isinstance(f, dict) and f.get("type") == "reference" and f.get("entity") == entity_id:
                incoming.append(
                    {
                        "entity": eid,
                        "label": label_text(doc.get("label"), lang) or eid,
                        "field": label_text(f.get("label"), lang) or str(f.get("name")),
                        "href": f"/builder/{design.pack_id}/entities/{eid}",
                    }
                )
    return {"forms": forms, "views": views, "incoming": incoming}


IDENT = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def _new_page(request: Request, design: Design, form: dict[str, str], errors: dict[str, str]) -> HTMLResponse:
    return render(
        request,
        "builder/entities_new.html",
        design.user,
        status=400 if errors else 200,
        pack_id=design.pack_id,
        form=form,
        errors=errors,
        page_title="bf.entity.new",
        crumbs=crumbs(design, Crumb(design.t("bf.entity.new"))),
    )


@router.get("/builder/{pack_id}/entities/_new")
def new_entity_page(pack_id: str, request: Request) -> HTMLResponse:
    design = designer(request, pack_id)
    design.draft()  # 404 for a pack that is not deployed
    return _new_page(request, design, {"id": "", "zh": "", "en": ""}, {})


@router.post("/builder/{pack_id}/entities/_new")
async def create_entity(pack_id: str, request: Request) -> Response:
    """A new entity starts with one required name field (its title), so its first form and list make sense."""
    design = designer(request, pack_id)
    data = await request.form()
    form = {k: str(data.get(k, "")).strip() for k in ("id", "zh", "en")}
    errors: dict[str, str] = {}
    if not IDENT.match(form["id"]):
        errors["id"] = design.t("bf.entity.new_id_invalid")
    elif form["id"] in design.app.registry.entities or form["id"] in folder_docs(design.documents(), "entities"):
        errors["id"] = design.t("bf.entity.new_id_taken", id=form["id"])
    if not form["zh"]:
        errors["zh"] = design.t("bf.entity.new_label_required")
    if errors:
        return _new_page(request, design, form, errors)
    doc = {
        "id": form["id"],
        "label": {"zh": form["zh"], "en": form["en"] or form["zh"]},
        "title_field": "name",
        "fields": [{"name": "name", "type": "text", "label": {"zh": "名称", "en": "Name"}, "required": True}],
    }
    result = save_documents(design, [(f"entities/{form['id']}.json", doc)])
    if not result.ok:
        return _new_page(request, design, form, {"id": "; ".join(e["message"] for e in result.errors)})
    return RedirectResponse(f"/builder/{pack_id}/entities/{form['id']}", status_code=303)


@router.get("/builder/{pack_id}/entities/{entity_id}")
def entity_designer(pack_id: str, entity_id: str, request: Request) -> HTMLResponse:
    design = designer(request, pack_id)
    _, entity_doc = require_document(design.documents(), "entities", entity_id)
    deployed = design.app.registry.entities.get(entity_id)
    state = {
        **common_state(design),
        "kind": "entity",
        "entity": entity_doc,
        "deployedFields": deployed.field_names if deployed is not None and deployed.pack_id == pack_id else [],
        "deployedChildren": {
            f.name: [c.name for c in f.children]
            for f in (deployed.fields if deployed is not None else [])
            if f.children
        },
        "links": _links(design, entity_id),
    }
    state["urls"].update(
        {
            "save": f"/builder/{pack_id}/entities/{entity_id}/save",
            "newForm": f"/builder/{pack_id}/entities/{entity_id}/new-form",
            "newView": f"/builder/{pack_id}/entities/{entity_id}/new-view",
        }
    )
    title = label_text(entity_doc.get("label"), design.lang) or entity_id
    return render_designer(
        request,
        design,
        "builder/entities_designer.html",
        title=design.t("bf.entity.title", name=title),
        active="entities",
        state=state,
        eyebrow=design.t("bf.eyebrow.entity"),
    )


def _without_fields_in_form(form: dict[str, Any], gone: set[str]) -> dict[str, Any]:
    out = json.loads(json.dumps(form))
    for tab in out.get("tabs") or [out]:
        sections = [{**s, "fields": [n for n in s.get("fields", []) if n not in gone]} for s in tab.get("sections", [])]
        tab["sections"] = [s for s in sections if s["fields"]]
    if "tabs" in out:
        out["tabs"] = [t for t in out["tabs"] if t["sections"]]
    if out.get("conditions"):
        out["conditions"] = {k: v for k, v in out["conditions"].items() if k not in gone}
        if not out["conditions"]:
            del out["conditions"]
    return out


def _without_fields_in_view(view: dict[str, Any], gone: set[str]) -> dict[str, Any]:
    out = json.loads(json.dumps(view))
    for key in VIEW_LISTS:
        if key in out:
            out[key] = [n for n in out[key] if n not in gone]
            if not out[key]:
                del out[key]
    if "filters" in out:
        out["filters"] = [f for f in out["filters"] if f.get("field") not in gone]
    if "sort" in out:
        out["sort"] = [s for s in out["sort"] if s.get("field") not in gone]
    return out


def _cleanups(design: Design, entity_id: str, gone: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """Forms and views of the entity that still name deleted fields, without them."""
    if not gone:
        return []
    changed: list[tuple[str, dict[str, Any]]] = []
    for rel, doc in sorted(design.documents().items()):
        if not isinstance(doc, dict) or doc.get("entity") != entity_id:
            continue
        if rel.startswith("forms/"):
            new = _without_fields_in_form(doc, gone)
        elif rel.startswith("views/"):
            new = _without_fields_in_view(doc, gone)
        else:
            continue
        if new != doc:
            changed.append((rel, new))
    return changed


@router.post("/builder/{pack_id}/entities/{entity_id}/save")
async def save_entity(pack_id: str, entity_id: str, request: Request) -> JSONResponse:
    """Store the entity (and new option sets) in the draft; deleted fields also leave forms and views."""
    design = designer(request, pack_id)
    data = await json_body(request)
    entity = data.get("entity")
    if not isinstance(entity, dict) or entity.get("id") != entity_id:
        raise BadRequest("the entity does not belong to this page")
    documents = design.documents()
    rel, before = require_document(documents, "entities", entity_id)
    docs: list[tuple[str, dict[str, Any]]] = []
    docs.extend(option_set_docs(design, data))
    docs.append((rel, entity))
    names_before = {f.get("name") for f in before.get("fields", []) if isinstance(f, dict)}
    names_after = {f.get("name") for f in entity.get("fields", []) if isinstance(f, dict)}
    docs.extend(_cleanups(design, entity_id, {n for n in names_before - names_after if isinstance(n, str)}))
    result = save_documents(design, docs)
    return JSONResponse(result.as_json(), status_code=200 if result.ok else 422)
