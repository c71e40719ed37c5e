"""/builder: the deployed packs with their draft status, and per pack the list of everything it holds.

A department manager starts here: which application is being edited, whether there are unpublished
changes, and one click to every form, entity, view, flow, rule, template, score, report and
follow-up plan of the pack (the editors are the designer pages of BB and BC).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.blueprints.model import label_text
from runtime.errors import NotFound
from ui.formatting import local_datetime_text
from ui.routes.builder_common import GROUPS, KINDS, Designer, crumbs, pack_label, problem_rows, require_designer
from ui.session import flash
from ui.templating import Crumb, render

router = APIRouter()


def when(value: Any) -> str:
    """A stored timestamp in the hospital's time, '' when there is none."""
    if value in (None, ""):
        return ""
    return local_datetime_text(value.isoformat() if hasattr(value, "isoformat") else str(value))


@router.get("/builder")
def builder_home(request: Request) -> HTMLResponse:
    d = require_designer(request)
    packs = []
    for p in d.workspace().packs():
        packs.append(
            {
                **p,
                "name": label_text(p.get("label"), d.lang) or p["id"],
                "deployed": when(p.get("deployed_at")),
            }
        )
    return render(
        request,
        "builder/home.html",
        d.user,
        crumbs=[Crumb(d.t("nav.home"), "/"), Crumb(d.t("builder.title"))],
        page_title=d.t("builder.title"),
        packs=packs,
    )


def items_of(d: Designer, draft: Any, folder: str, segment: str) -> list[dict[str, Any]]:
    """The documents (or BPMN files) of one folder of the draft, with their label and editor link."""
    pack_id = draft.pack_id
    out = []
    if folder == "workflows":
        for rel in sorted(draft.workflows):
            name = rel.split("/", 1)[1]
            out.append(
                {
                    "id": name.removesuffix(".bpmn"),
                    "label": name,
                    "href": f"/builder/{pack_id}/flows/{name}",
                    "entity": None,
                }
            )
        return out
    for rel in sorted(draft.documents):
        if not rel.startswith(folder + "/"):
            continue
        doc = draft.documents[rel] if isinstance(draft.documents[rel], dict) else {}
        ident = str(doc.get("id") or rel.split("/", 1)[1].removesuffix(".json"))
        label = label_text(doc.get("label") or doc.get("name"), d.lang) or ident
        out.append(
            {"id": ident, "label": label, "href": f"/builder/{pack_id}/{segment}/{ident}", "entity": doc.get("entity")}
        )
    return out


def pack_context(d: Designer, pack_id: str) -> dict[str, Any]:
    """What the pack pages share: the pack's name, its draft and the draft's status line."""
    ws = d.workspace()
    draft = ws.draft(pack_id)
    info = next((p for p in ws.packs() if p["id"] == pack_id), None)
    if info is None:
        raise NotFound(f"the pack '{pack_id}' is not deployed")
    name = label_text(info.get("label"), d.lang) or pack_label(d.app, pack_id, d.lang)
    return {
        "pack": {
            **info,
            "name": name,
            "dirty": bool(getattr(draft, "dirty", False)),
            "updated_by": getattr(draft, "updated_by", None),
            "updated": when(getattr(draft, "updated_at", None)),
            "deployed": when(info.get("deployed_at")),
        },
        "draft": draft,
        "ws": ws,
    }


@router.get("/builder/{pack_id}")
def pack_page(pack_id: str, request: Request) -> HTMLResponse:
    return _pack_page(request, pack_id, None)


@router.get("/builder/{pack_id}/list/{group}")
def pack_group_page(pack_id: str, group: str, request: Request) -> HTMLResponse:
    if group not in GROUPS:
        raise NotFound(f"no builder list '{group}'")
    return _pack_page(request, pack_id, group)


def _pack_page(request: Request, pack_id: str, group: str | None) -> HTMLResponse:
    d = require_designer(request)
    pc = pack_context(d, pack_id)
    draft = pc["draft"]
    shown = GROUPS.get(group or "", tuple(k[0] for k in KINDS))
    sections = [
        {"folder": folder, "segment": segment, "icon": icon, "items": items_of(d, draft, folder, segment)}
        for folder, segment, icon in KINDS
        if folder in shown
    ]
    problems = problem_rows(pc["ws"].check(pack_id), d.lang) if pc["pack"]["dirty"] else []
    tail = [Crumb(d.t(f"builder.tab.{group}"))] if group else []
    return render(
        request,
        "builder/pack.html",
        d.user,
        crumbs=crumbs(d, pack_id, pc["pack"]["name"], *tail),
        page_title=pc["pack"]["name"],
        pack=pc["pack"],
        sections=sections,
        group=group,
        problems=problems,
    )


@router.post("/builder/{pack_id}/discard")
def discard_draft(pack_id: str, request: Request) -> Response:
    """Throw the unpublished changes away (the page asks for confirmation first)."""
    d = require_designer(request)
    d.workspace().discard(pack_id, user=d.user.username)
    flash(request, "success", d.t("builder.discarded"))
    return RedirectResponse(f"/builder/{pack_id}", status_code=303)
