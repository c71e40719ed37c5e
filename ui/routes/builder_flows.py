"""Flow designer: the bpmn-js modeler for a pack's BPMN files, with a side panel for the host's bindings.

The side panel writes exactly what the workflow host reads (workflows/README.md): the
``spiffworkflow:properties`` of user tasks (form, role, assignee, due, outcomes, pool) and start
events (entity, form, starter_roles), lane names as role ids, ``spiffworkflow:serviceTaskOperator``
for service tasks, timer durations and gateway conditions in the expression language. Saving runs
the runtime's own parser (Workspace.save_workflow), so a flow that saves is one the host can run.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from runtime.blueprints.errors import PackInvalid
from runtime.blueprints.model import label_text
from runtime.errors import NotFound
from runtime.expressions import ExpressionError, compile_expression
from ui.i18n import MESSAGES, pick_language, t
from ui.routes.builder_common import Designer, crumbs, pack_errors, require_designer
from ui.routes.builder_home import pack_context
from ui.templating import Crumb, render

router = APIRouter()
FILE = re.compile(r"^[a-z][a-z0-9_]{0,59}\.bpmn$")
PROCESS_ID = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
ELEMENT = re.compile(r"element '([^']+)'")
PREFIX = re.compile(r"^(?:element '[^']+': )?(?:process '[^']+', element '[^']+': )?")
MAX_XML = 2_000_000
#: Parameters each runtime action reads (runtime/workflows/actions.py), offered as rows in the panel.
ACTION_PARAMS: dict[str, list[str]] = {
    "notify": ["user", "title", "body", "link"],
    "record.create": ["entity", "values"],
    "record.update": ["entity", "id", "values"],
    "process.start": ["process", "data"],
}


def flow_rel(file: str) -> str:
    if not FILE.match(file):
        raise NotFound(f"no flow '{file}'")
    return f"workflows/{file}"


def new_flow_xml(process_id: str, name: str) -> str:
    """An empty executable process: one start event, one end event and the flow between them, with its diagram."""
    pid, nm = escape(process_id), quoteattr(name)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="{pid}_definitions" \
targetNamespace="http://tessera.local/bpmn">
  <bpmn:process id="{pid}" name={nm} isExecutable="true">
    <bpmn:startEvent id="start" name="Start"><bpmn:outgoing>f_start_end</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="end" name="Done"><bpmn:incoming>f_start_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start_end" sourceRef="start" targetRef="end"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="{pid}_diagram">
    <bpmndi:BPMNPlane id="{pid}_plane" bpmnElement="{pid}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="182" y="162" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end">
        <dc:Bounds x="682" y="162" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f_start_end_di" bpmnElement="f_start_end">
        <di:waypoint x="218" y="180"/><di:waypoint x="682" y="180"/></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def binding_choices(d: Designer, draft: Any) -> dict[str, Any]:
    """Forms, roles, entities and actions the side panel offers (the draft's own first, then other packs')."""
    forms: dict[str, dict[str, Any]] = {}
    entities: dict[str, dict[str, Any]] = {}
    roles: dict[str, dict[str, Any]] = {}
    for rel, doc in sorted(draft.documents.items()):
        if not isinstance(doc, dict) or "id" not in doc:
            continue
        label = label_text(doc.get("label"), d.lang) or doc["id"]
        if rel.startswith("forms/"):
            forms[doc["id"]] = {"id": doc["id"], "label": label, "entity": doc.get("entity")}
        elif rel.startswith("entities/"):
            entities[doc["id"]] = {"id": doc["id"], "label": label}
        elif rel.startswith("roles/"):
            roles[doc["id"]] = {"id": doc["id"], "label": label}
    registry = d.app.registry
    for f in registry.forms.values():
        label = label_text(f.raw.get("label"), d.lang) or f.id
        forms.setdefault(f.id, {"id": f.id, "label": label, "entity": f.entity})
    for e in registry.entities.values():
        entities.setdefault(e.id, {"id": e.id, "label": label_text(e.label, d.lang) or e.id})
    for r in registry.roles.values():
        roles.setdefault(r.id, {"id": r.id, "label": label_text(r.label, d.lang) or r.id})
    actions = list(d.app.workflows.actions.names()) if getattr(d.app, "workflows", None) else []
    return {
        "forms": list(forms.values()),
        "entities": list(entities.values()),
        "roles": list(roles.values()),
        "actions": [{"id": a, "params": ACTION_PARAMS.get(a, [])} for a in actions],
    }


@router.get("/builder/{pack_id}/flows/_new")
def new_flow_page(pack_id: str, request: Request) -> HTMLResponse:
    d = require_designer(request)
    return _new_page(request, d, pack_id)


def _new_page(
    request: Request, d: Designer, pack_id: str, error: str = "", status: int = 200, **values: str
) -> HTMLResponse:
    pc = pack_context(d, pack_id)
    return render(
        request,
        "builder/flows_new.html",
        d.user,
        status=status,
        crumbs=crumbs(
            d,
            pack_id,
            pc["pack"]["name"],
            Crumb(d.t("builder.tab.flows"), f"/builder/{pack_id}/list/flows"),
            Crumb(d.t("builder.flow.new")),
        ),
        page_title=d.t("builder.flow.new"),
        pack=pc["pack"],
        error=error,
        process_id=values.get("process_id", ""),
        name=values.get("name", ""),
    )


@router.post("/builder/{pack_id}/flows/_new")
async def create_flow(pack_id: str, request: Request) -> Response:
    """A new flow from the template: an empty process with a start and an end event."""
    d = require_designer(request)
    form = await request.form()
    process_id = str(form.get("process_id") or "").strip()
    name = str(form.get("name") or "").strip()[:200] or process_id
    if not PROCESS_ID.match(process_id):
        return _new_page(request, d, pack_id, d.t("builder.flow.bad_id"), 422, process_id=process_id, name=name)
    draft = d.workspace().draft(pack_id)
    rel = f"workflows/{process_id}.bpmn"
    if rel in draft.workflows:
        return _new_page(request, d, pack_id, d.t("builder.flow.exists"), 422, process_id=process_id, name=name)
    try:
        d.workspace().save_workflow(pack_id, rel, new_flow_xml(process_id, name), user=d.user.username)
    except PackInvalid as exc:
        message = pick_language(str(pack_errors(exc)[0]), d.lang)
        return _new_page(request, d, pack_id, message, 422, process_id=process_id, name=name)
    return RedirectResponse(f"/builder/{pack_id}/flows/{process_id}.bpmn", status_code=303)


@router.get("/builder/{pack_id}/flows/{file}")
def flow_page(pack_id: str, file: str, request: Request) -> HTMLResponse:
    d = require_designer(request)
    rel = flow_rel(file)
    pc = pack_context(d, pack_id)
    draft = pc["draft"]
    if rel not in draft.workflows:
        raise NotFound(f"the pack '{pack_id}' has no flow '{file}'")
    data = {
        "xml": draft.workflows[rel],
        "save_url": f"/builder/{pack_id}/flows/{file}",
        "check_url": "/builder/_expression",
        "lang": d.lang,
        **binding_choices(d, draft),
    }
    return render(
        request,
        "builder/flows_designer.html",
        d.user,
        crumbs=crumbs(
            d,
            pack_id,
            pc["pack"]["name"],
            Crumb(d.t("builder.tab.flows"), f"/builder/{pack_id}/list/flows"),
            Crumb(file),
        ),
        page_title=file,
        pack=pc["pack"],
        file=file,
        head_title=file,
        flow_data=data,
        flow_texts=panel_texts(d.lang),
    )


def panel_texts(lang: str) -> dict[str, str]:
    """The side panel's words (builder.fp.*) in the user's language, handed to flow_panel.js."""
    return {key.removeprefix("builder.fp."): t(lang, key) for key in MESSAGES if key.startswith("builder.fp.")}


def save_errors(exc: PackInvalid, lang: str) -> list[dict[str, Any]]:
    """The parser's problems with the element they name, so the designer can select it on the canvas."""
    out = []
    for e in pack_errors(exc):
        message = str(e.get("message") if isinstance(e, dict) else getattr(e, "message", e))
        found = ELEMENT.search(message)
        message = PREFIX.sub("", message)
        line = e.get("line") if isinstance(e, dict) else getattr(e, "line", None)
        out.append(
            {"element": found.group(1) if found else None, "message": pick_language(message, lang), "line": line}
        )
    return out


@router.post("/builder/{pack_id}/flows/{file}")
async def save_flow(pack_id: str, file: str, request: Request) -> JSONResponse:
    """Save the modeler's XML into the draft (fetch with the X-CSRF-Token header); 422 lists the problems."""
    d = require_designer(request)
    rel = flow_rel(file)
    body = await request.json()
    xml = body.get("xml") if isinstance(body, dict) else None
    if not isinstance(xml, str) or not xml.strip() or len(xml) > MAX_XML:
        return JSONResponse({"ok": False, "errors": [{"element": None, "message": d.t("builder.flow.empty")}]}, 422)
    try:
        warnings = d.workspace().save_workflow(pack_id, rel, xml, user=d.user.username)
    except PackInvalid as exc:
        return JSONResponse({"ok": False, "errors": save_errors(exc, d.lang)}, 422)
    own = [w for w in warnings or [] if (w.get("file") if isinstance(w, dict) else None) == rel]
    return JSONResponse(
        {
            "ok": True,
            "message": d.t("builder.flow.saved"),
            "warnings": [pick_language(str(w.get("message")), d.lang) for w in own],
            "draft_problems": len(warnings or []),
        }
    )


@router.post("/builder/_expression")
async def check_expression(request: Request) -> JSONResponse:
    """Check as you type: does the expression language accept this text? (never evaluates it)."""
    require_designer(request)
    body = await request.json()
    text = body.get("expression") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        return JSONResponse({"ok": True, "empty": True})
    try:
        compiled = compile_expression(text[:2000])
    except ExpressionError as exc:
        return JSONResponse({"ok": False, "message": exc.message, "position": exc.position})
    return JSONResponse({"ok": True, "names": sorted(getattr(compiled, "names", []) or [])})
