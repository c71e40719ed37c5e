"""The form designer: /builder/{pack}/forms/{form_id} (issue 7, part 1).

The page edits a form and its entity together in the browser (palette, canvas, properties, undo)
and posts both back as one save into the pack's draft: a field dragged in from the palette is a
new field of the entity as well as a place on the form. The preview is the real record form,
rendered here from the unsaved documents with the record pages' own code. Expressions are checked
as the designer types through a small endpoint, with the runtime's checker and the entity's
field names, so the page and the publish check never disagree.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from runtime.blueprints.model import SYSTEM_FIELDS, label_text
from runtime.errors import BadRequest, NotFound
from runtime.expressions import check_expression
from ui.designer.drafts import (
    Design,
    designer,
    find_document,
    folder_docs,
    json_body,
    option_set_docs,
    require_document,
    save_documents,
    unique_id,
)
from ui.designer.pages import common_state, render_designer
from ui.designer.preview import draft_form, form_states, preview_tabs
from ui.templating import render_fragment

router = APIRouter()


def _new_form(entity_doc: dict[str, Any], form_id: str) -> dict[str, Any]:
    """A first form for an entity: every field the user types into, in one two-column section."""
    names = [f["name"] for f in entity_doc.get("fields", []) if isinstance(f, dict) and "name" in f]
    return {
        "id": form_id,
        "entity": entity_doc["id"],
        "label": entity_doc.get("label", form_id),
        "sections": [{"label": {"zh": "基本信息", "en": "Basics"}, "columns": 2, "fields": names}],
    }


def _form_and_entity(design: Design, form_id: str, entity_hint: str | None) -> tuple[str, dict, str, dict, bool]:
    """(form path, form, entity path, entity, is_new) from the draft; a missing form is started for ?entity=."""
    documents = design.documents()
    found = find_document(documents, "forms", form_id)
    is_new = found is None
    if found is None:
        if not entity_hint:
            raise NotFound(f"the form '{form_id}' is not in this pack")
        entity_rel, entity_doc = require_document(documents, "entities", entity_hint)
        return f"forms/{form_id}.json", _new_form(entity_doc, form_id), entity_rel, entity_doc, True
    form_rel, form_doc = found
    entity_rel, entity_doc = require_document(documents, "entities", str(form_doc.get("entity")))
    return form_rel, form_doc, entity_rel, entity_doc, is_new


def _used_elsewhere(documents: dict[str, Any], entity_id: str, form_id: str) -> list[str]:
    """Fields of the entity placed on its other forms: removing them from this form must keep them."""
    used: set[str] = set()
    for doc in folder_docs(documents, "forms").values():
        if doc.get("entity") != entity_id or doc.get("id") == form_id:
            continue
        for tab in doc.get("tabs") or [{"sections": doc.get("sections") or []}]:
            for section in tab.get("sections", []):
                used.update(section.get("fields", []))
    return sorted(used)


@router.get("/builder/{pack_id}/entities/{entity_id}/new-form")
def new_form(pack_id: str, entity_id: str, request: Request) -> Response:
    """Start a new form for an entity under a free id; nothing is stored until the designer saves."""
    design = designer(request, pack_id)
    require_document(design.documents(), "entities", entity_id)
    taken = set(folder_docs(design.documents(), "forms")) | set(design.app.registry.forms)
    form_id = unique_id(f"{entity_id}_form", taken)
    return RedirectResponse(f"/builder/{pack_id}/forms/{form_id}?entity={entity_id}", status_code=303)


@router.get("/builder/{pack_id}/forms/{form_id}")
def form_designer(pack_id: str, form_id: str, request: Request) -> HTMLResponse:
    design = designer(request, pack_id)
    form_rel, form_doc, entity_rel, entity_doc, is_new = _form_and_entity(
        design, form_id, request.query_params.get("entity")
    )
    deployed = design.app.registry.entities.get(entity_doc["id"])
    base = f"/builder/{pack_id}/forms/{form_id}"
    state = {
        **common_state(design),
        "kind": "form",
        "formId": form_id,
        "isNew": is_new,
        "form": form_doc,
        "entity": entity_doc,
        "deployedFields": deployed.field_names if deployed is not None and deployed.pack_id == pack_id else [],
        "usedElsewhere": _used_elsewhere(design.documents(), entity_doc["id"], form_id),
    }
    state["urls"].update(
        {
            "save": base + "/save",
            "preview": base + "/preview",
            "previewState": base + "/preview-state",
            "entity": f"/builder/{pack_id}/entities/{entity_doc['id']}",
            "records": f"/r/{entity_doc['id']}/new?form={form_id}",
        }
    )
    title = label_text(form_doc.get("label"), design.lang) or form_id
    return render_designer(
        request,
        design,
        "builder/forms_designer.html",
        title=design.t("bf.form.title", name=title),
        active="forms",
        state=state,
        form_rel=form_rel,
        entity_rel=entity_rel,
        entity_label=label_text(entity_doc.get("label"), design.lang),
    )


def _bundle(design: Design, form_id: str, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The documents of one designer save, option sets first; ids must match the page's documents."""
    form, entity = data.get("form"), data.get("entity")
    if not isinstance(form, dict) or not isinstance(entity, dict):
        raise BadRequest("the save needs the form and its entity")
    if form.get("id") != form_id or form.get("entity") != entity.get("id"):
        raise BadRequest("the form does not belong to this page")
    documents = design.documents()
    entity_found = find_document(documents, "entities", str(entity.get("id")))
    if entity_found is None:
        raise NotFound("the entity is not part of this pack")
    form_found = find_document(documents, "forms", form_id)
    docs: list[tuple[str, dict[str, Any]]] = []
    docs.extend(option_set_docs(design, data))
    docs.append((entity_found[0], entity))
    docs.append((form_found[0] if form_found else f"forms/{form_id}.json", form))
    return docs


@router.post("/builder/{pack_id}/forms/{form_id}/save")
async def save_form(pack_id: str, form_id: str, request: Request) -> JSONResponse:
    """Store the form, its entity and any option sets it changed in the draft (all or nothing)."""
    design = designer(request, pack_id)
    result = save_documents(design, _bundle(design, form_id, await json_body(request)))
    return JSONResponse(result.as_json(), status_code=200 if result.ok else 422)


def _draft_from(design: Design, data: dict[str, Any]) -> Any:
    form, entity = data.get("form"), data.get("entity")
    if not isinstance(form, dict) or not isinstance(entity, dict):
        raise BadRequest("the preview needs the form and its entity")
    option_sets = {**folder_docs(design.documents(), "option_sets"), **(data.get("option_sets") or {})}
    return draft_form(design.app, design.pack_id, entity, form, option_sets)


@router.post("/builder/{pack_id}/forms/{form_id}/preview")
async def preview_form(pack_id: str, form_id: str, request: Request) -> HTMLResponse:
    """The record form for the unsaved design, as a fragment for the preview pane."""
    design = designer(request, pack_id)
    data = await json_body(request)
    try:
        draft = _draft_from(design, data)
        tabs, _ = preview_tabs(draft, design.ctx)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # half-edited documents
        html = render_fragment(request, "builder/forms_preview.html", design.user, tabs=[], problem=str(exc))
        return HTMLResponse(html)
    html = render_fragment(request, "builder/forms_preview.html", design.user, tabs=tabs, problem=None)
    return HTMLResponse(html)


@router.post("/builder/{pack_id}/forms/{form_id}/preview-state")
async def preview_state(pack_id: str, form_id: str, request: Request) -> JSONResponse:
    """Field states for what was typed into the preview, so its conditions act like the real form's."""
    design = designer(request, pack_id)
    data = await json_body(request)
    draft = _draft_from(design, data)
    typed = data.get("values") or {}
    post = FormData([(str(k), str(v)) for k, vs in typed.items() for v in (vs if isinstance(vs, list) else [vs])])
    from ui import layout
    from ui.forms import read_post

    fields = [f for f in draft.entity.fields if layout.editable(f)]
    values = {k: v for k, v in read_post(fields, post, design.lang).data.items() if v is not None}
    states = form_states(draft, values, design.lang)
    return JSONResponse(
        {
            "states": {
                n: {"visible": s.visible, "required": s.required, "read_only": s.read_only} for n, s in states.items()
            }
        }
    )


@router.post("/builder/{pack_id}/_expression")
async def check(pack_id: str, request: Request) -> JSONResponse:
    """Problems of one expression for the names in scope (the entity's fields as designed right now)."""
    design = designer(request, pack_id)
    data = await json_body(request)
    source = data.get("expression")
    if not isinstance(source, str) or not source.strip():
        return JSONResponse({"problems": []})
    names = [n for n in data.get("names") or [] if isinstance(n, str)]
    problems = check_expression(source, [*names, *SYSTEM_FIELDS])
    return JSONResponse({"problems": [_readable(p, design.lang) for p in problems]})


_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"unknown variable '([^']+)'"), r"未知的字段「\1」"),
    (re.compile(r" ?\(did you mean '([^']+)'\?\)"), r"（是否想写「\1」？）"),
    (re.compile(r" ?at column (\d+)"), r"（第 \1 列）"),
    (re.compile(r"^syntax error: "), "语法错误："),
    (re.compile(r"the expression is incomplete"), "表达式不完整"),
    (re.compile(r"function '([^']+)' is not available"), r"没有「\1」这个函数"),
)


def _readable(problem: str, lang: str) -> str:
    """The checker speaks English; Chinese pages get the common phrases in Chinese, the rest as is."""
    if lang != "zh":
        return problem
    text = problem
    for pattern, zh in _PHRASES:
        text = pattern.sub(zh, text)
    return text
