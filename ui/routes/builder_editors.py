"""Form-style editors for rules, message templates, scores, reports and follow-up plans.

One generic editor (ui/static/ui/builder/editors.js) draws a form from each kind's JSON Schema
(runtime/blueprints/schema/<kind>.schema.json), so a manager edits fields, lists and choices and
never JSON; the schema is resolved here ($refs inlined, labels and expressions marked as widgets)
so the browser needs no schema library. Saving goes through Workspace.save_document, which checks
the document against the same schema and returns the pack's cross-file problems as warnings.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from runtime.blueprints.errors import PackInvalid
from runtime.blueprints.kinds import schema_of
from runtime.blueprints.model import label_text
from runtime.blueprints.schema import pack_schema
from runtime.errors import NotFound
from ui.i18n import MESSAGES, pick_language, t
from ui.routes.builder_common import Designer, crumbs, pack_errors, require_designer, script_json
from ui.routes.builder_home import pack_context
from ui.templating import Crumb, render

router = APIRouter()
#: URL segment -> (pack folder, schema kind)
EDITORS: dict[str, tuple[str, str]] = {
    "rules": ("rules", "rule"),
    "templates": ("templates", "message_template"),
    "scores": ("scores", "score"),
    "reports": ("reports", "report"),
    "followups": ("followups", "followup_plan"),
}
PACK_REF = "https://tessera.example/schema/pack-v1.json#/$defs/"
EXPRESSION_KEYS = {"condition", "where", "when", "applies_when", "assignee_expr"}


def resolve(node: Any, local: dict[str, Any], depth: int = 0) -> Any:
    """The schema with every $ref inlined; labels, texts and expressions marked with x-widget."""
    if depth > 30:
        return {}
    if isinstance(node, list):
        return [resolve(n, local, depth + 1) for n in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    extra = {k: v for k, v in node.items() if k != "$ref"}
    if isinstance(ref, str):
        if ref.startswith(PACK_REF):
            name = ref.removeprefix(PACK_REF)
            if name == "label":
                return {**extra, "x-widget": "label"}
            target = copy.deepcopy(pack_schema()["$defs"][name])
            if name == "expression":
                target["x-widget"] = "expression"
        elif ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name == "text":
                return {**extra, "x-widget": "text"}
            target = copy.deepcopy(local[name])
        else:
            return extra
        return {**resolve(target, local, depth + 1), **{k: resolve(v, local, depth + 1) for k, v in extra.items()}}
    out = {k: resolve(v, local, depth + 1) for k, v in node.items() if k != "$defs"}
    props = out.get("properties")
    if isinstance(props, dict):
        for key, sub in props.items():
            if key in EXPRESSION_KEYS and isinstance(sub, dict) and sub.get("type") == "string":
                sub["x-widget"] = "expression"
    return out


def editor_schema(kind: str) -> dict[str, Any]:
    raw = schema_of(kind)
    return resolve(raw, raw.get("$defs", {}))


def hints(d: Designer, draft: Any) -> dict[str, Any]:
    """Names the editor offers in drop-downs: entities with their fields, forms, roles, templates, processes."""
    entities: dict[str, dict[str, Any]] = {}
    names: dict[str, list[dict[str, str]]] = {"forms": [], "roles": [], "templates": [], "processes": []}
    for rel, doc in sorted(draft.documents.items()):
        if not isinstance(doc, dict) or "id" not in doc:
            continue
        label = label_text(doc.get("label"), d.lang) or doc["id"]
        folder = rel.split("/", 1)[0]
        if folder == "entities":
            fields = [
                {"id": f["name"], "label": label_text(f.get("label"), d.lang) or f["name"]}
                for f in doc.get("fields", [])
                if isinstance(f, dict) and "name" in f
            ]
            entities[doc["id"]] = {"id": doc["id"], "label": label, "fields": fields}
        elif folder in ("forms", "roles", "templates"):
            names[folder].append({"id": doc["id"], "label": label})
    for e in d.app.registry.entities.values():
        if e.id not in entities:
            fields = [{"id": f.name, "label": label_text(f.label, d.lang) or f.name} for f in e.fields]
            entities[e.id] = {"id": e.id, "label": label_text(e.label, d.lang) or e.id, "fields": fields}
    for r in d.app.registry.roles.values():
        if all(x["id"] != r.id for x in names["roles"]):
            names["roles"].append({"id": r.id, "label": label_text(r.label, d.lang) or r.id})
    for rel in sorted(draft.workflows):
        names["processes"].append({"id": rel.split("/", 1)[1].removesuffix(".bpmn"), "label": rel})
    return {"entities": list(entities.values()), **names}


def _find(draft: Any, folder: str, doc_id: str) -> tuple[str, dict[str, Any]] | None:
    rel = f"{folder}/{doc_id}.json"
    if isinstance(draft.documents.get(rel), dict):
        return rel, draft.documents[rel]
    for rel, doc in draft.documents.items():
        if rel.startswith(folder + "/") and isinstance(doc, dict) and doc.get("id") == doc_id:
            return rel, doc
    return None


def editor_texts(lang: str) -> dict[str, str]:
    """The editor's words (builder.ed.*) in the user's language, handed to editors.js."""
    return {key.removeprefix("builder.ed."): t(lang, key) for key in MESSAGES if key.startswith("builder.ed.")}


def editor_page(pack_id: str, segment: str, doc_id: str, request: Request) -> HTMLResponse:
    d = require_designer(request)
    folder, kind = EDITORS[segment]
    pc = pack_context(d, pack_id)
    draft = pc["draft"]
    is_new = doc_id == "_new"
    if is_new:
        rel, doc = "", {}
    else:
        found = _find(draft, folder, doc_id)
        if found is None:
            raise NotFound(f"the pack '{pack_id}' has no {kind} '{doc_id}'")
        rel, doc = found
    title = (
        d.t("builder.ed.new_title", kind=d.t(f"builder.kind.{folder}"))
        if is_new
        else (label_text(doc.get("label"), d.lang) or doc_id)
    )
    data = {
        "kind": kind,
        "folder": folder,
        "is_new": is_new,
        "rel": rel,
        "doc": doc,
        "schema": editor_schema(kind),
        "hints": hints(d, draft),
        "save_url": f"/builder/{pack_id}/{segment}/{doc_id}",
        "check_url": "/builder/_expression",
        "lang": d.lang,
    }
    return render(
        request,
        "builder/editors.html",
        d.user,
        crumbs=crumbs(
            d,
            pack_id,
            pc["pack"]["name"],
            Crumb(
                d.t("builder.kind." + folder),
                f"/builder/{pack_id}/list/{'reports' if folder == 'reports' else 'automation'}",
            ),
            Crumb(title),
        ),
        page_title=title,
        pack=pc["pack"],
        head_title=title,
        kind=kind,
        folder=folder,
        editor_data=data,
        editor_json=script_json(data),
        editor_texts=editor_texts(d.lang),
    )


def _problems(exc: PackInvalid, lang: str) -> list[dict[str, Any]]:
    out = []
    for e in pack_errors(exc):
        get = e.get if isinstance(e, dict) else (lambda k, _e=e: getattr(_e, k, None))
        out.append({"pointer": get("pointer") or "", "message": pick_language(str(get("message") or ""), lang)})
    return out


async def save_editor(pack_id: str, segment: str, doc_id: str, request: Request) -> Response:
    """Store the edited document in the draft; 422 with the schema problems (pointer + message) otherwise."""
    d = require_designer(request)
    folder, _kind = EDITORS[segment]
    body = await request.json()
    doc = body.get("doc") if isinstance(body, dict) else None
    if not isinstance(doc, dict):
        return JSONResponse({"ok": False, "errors": [{"pointer": "", "message": d.t("builder.ed.bad_doc")}]}, 422)
    ws = d.workspace()
    draft = ws.draft(pack_id)
    if doc_id == "_new":
        new_id = str(doc.get("id") or "")
        rel = f"{folder}/{new_id}.json"
        if _find(draft, folder, new_id) is not None:
            return JSONResponse({"ok": False, "errors": [{"pointer": "/id", "message": d.t("builder.ed.exists")}]}, 422)
    else:
        found = _find(draft, folder, doc_id)
        if found is None:
            raise NotFound(f"the pack '{pack_id}' has no '{doc_id}' in {folder}")
        rel = found[0]
        doc["id"] = doc_id  # the id names the document elsewhere (rules, templates): it is not edited here
    try:
        warnings = ws.save_document(pack_id, rel, doc, user=d.user.username)
    except PackInvalid as exc:
        return JSONResponse({"ok": False, "errors": _problems(exc, d.lang)}, 422)
    own = [w for w in warnings or [] if isinstance(w, dict) and w.get("file") == rel]
    saved_id = str(doc.get("id"))
    return JSONResponse(
        {
            "ok": True,
            "message": d.t("builder.ed.saved"),
            "warnings": [
                {"pointer": w.get("pointer") or "", "message": pick_language(str(w.get("message")), d.lang)}
                for w in own
            ],
            "redirect": f"/builder/{pack_id}/{segment}/{saved_id}" if doc_id == "_new" else None,
        }
    )


async def delete_editor_doc(pack_id: str, segment: str, doc_id: str, request: Request) -> Response:
    d = require_designer(request)
    folder, _kind = EDITORS[segment]
    found = _find(d.workspace().draft(pack_id), folder, doc_id)
    if found is None:
        raise NotFound(f"the pack '{pack_id}' has no '{doc_id}' in {folder}")
    d.workspace().delete_document(pack_id, found[0], user=d.user.username)
    return RedirectResponse(
        f"/builder/{pack_id}/list/{'reports' if folder == 'reports' else 'automation'}", status_code=303
    )


def _routes(segment: str) -> None:
    """Literal paths per kind (/builder/{pack}/rules/{id} ...), so they never shadow BB's designer pages."""

    def page(pack_id: str, doc_id: str, request: Request) -> HTMLResponse:
        return editor_page(pack_id, segment, doc_id, request)

    async def save(pack_id: str, doc_id: str, request: Request) -> Response:
        return await save_editor(pack_id, segment, doc_id, request)

    async def delete(pack_id: str, doc_id: str, request: Request) -> Response:
        return await delete_editor_doc(pack_id, segment, doc_id, request)

    base = f"/builder/{{pack_id}}/{segment}/{{doc_id}}"
    router.add_api_route(base, page, methods=["GET"], name=f"builder_{segment}_page")
    router.add_api_route(base, save, methods=["POST"], name=f"builder_{segment}_save")
    router.add_api_route(base + "/delete", delete, methods=["POST"], name=f"builder_{segment}_delete")


for _segment in EDITORS:
    _routes(_segment)
