"""The view designer: /builder/{pack}/views/{view_id} (issue 7, part 3).

A view is how records of an entity are listed: the columns (dragged into order), the default
filters and sort, the field a board groups its columns by, the date field a calendar places
records on, and the form used to create and edit from it. The page edits the view document and
saves it into the draft; the filter operators offered for a field are the ones its type supports
at run time, so a saved view never holds a filter the runtime would refuse.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from runtime.blueprints.model import label_text
from runtime.errors import BadRequest, NotFound
from ui.designer.drafts import (
    Design,
    designer,
    find_document,
    folder_docs,
    json_body,
    require_document,
    save_documents,
    unique_id,
)
from ui.designer.pages import common_state, render_designer

router = APIRouter()


def _new_view(entity_doc: dict[str, Any], view_id: str) -> dict[str, Any]:
    """A first list view: the entity's first scalar fields as columns."""
    skip = {"child_table", "json", "long_text", "file", "image"}
    names = [f["name"] for f in entity_doc.get("fields", []) if isinstance(f, dict) and f.get("type") not in skip]
    return {
        "id": view_id,
        "entity": entity_doc["id"],
        "type": "list",
        "label": entity_doc.get("label", view_id),
        "columns": names[:6] or [entity_doc["fields"][0]["name"]],
    }


def _view_and_entity(design: Design, view_id: str, entity_hint: str | None) -> tuple[dict, dict, bool]:
    documents = design.documents()
    found = find_document(documents, "views", view_id)
    if found is None:
        if not entity_hint:
            raise NotFound(f"the view '{view_id}' is not in this pack")
        _, entity_doc = require_document(documents, "entities", entity_hint)
        return _new_view(entity_doc, view_id), entity_doc, True
    _, view_doc = found
    _, entity_doc = require_document(documents, "entities", str(view_doc.get("entity")))
    return view_doc, entity_doc, False


@router.get("/builder/{pack_id}/entities/{entity_id}/new-view")
def new_view(pack_id: str, entity_id: str, request: Request) -> Response:
    """Start a new list view for an entity under a free id; stored at the first save."""
    design = designer(request, pack_id)
    require_document(design.documents(), "entities", entity_id)
    taken = set(folder_docs(design.documents(), "views")) | set(design.app.registry.views)
    view_id = unique_id(f"{entity_id}_list", taken)
    return RedirectResponse(f"/builder/{pack_id}/views/{view_id}?entity={entity_id}", status_code=303)


@router.get("/builder/{pack_id}/views/{view_id}")
def view_designer(pack_id: str, view_id: str, request: Request) -> HTMLResponse:
    design = designer(request, pack_id)
    view_doc, entity_doc, is_new = _view_and_entity(design, view_id, request.query_params.get("entity"))
    lang = design.lang
    forms = [
        {"value": fid, "label": label_text(doc.get("label"), lang) or fid}
        for fid, doc in folder_docs(design.documents(), "forms").items()
        if doc.get("entity") == entity_doc["id"]
    ]
    state = {
        **common_state(design),
        "kind": "view",
        "viewId": view_id,
        "isNew": is_new,
        "view": view_doc,
        "entity": entity_doc,
        "forms": forms,
    }
    state["urls"].update(
        {
            "save": f"/builder/{pack_id}/views/{view_id}/save",
            "entity": f"/builder/{pack_id}/entities/{entity_doc['id']}",
        }
    )
    title = label_text(view_doc.get("label"), lang) or view_id
    return render_designer(
        request,
        design,
        "builder/views_designer.html",
        title=design.t("bf.view.title", name=title),
        active="views",
        state=state,
        eyebrow=design.t("bf.eyebrow.view", entity=label_text(entity_doc.get("label"), lang)),
    )


@router.post("/builder/{pack_id}/views/{view_id}/save")
async def save_view(pack_id: str, view_id: str, request: Request) -> JSONResponse:
    """Store the view in the draft (its entity must be part of this pack)."""
    design = designer(request, pack_id)
    data = await json_body(request)
    view = data.get("view")
    if not isinstance(view, dict) or view.get("id") != view_id:
        raise BadRequest("the view does not belong to this page")
    documents = design.documents()
    require_document(documents, "entities", str(view.get("entity")))
    found = find_document(documents, "views", view_id)
    result = save_documents(design, [(found[0] if found else f"views/{view_id}.json", view)])
    return JSONResponse(result.as_json(), status_code=200 if result.ok else 422)
