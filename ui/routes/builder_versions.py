"""Versions of a pack: history, a readable diff, publish with its migration preview, rollback.

Publishing changes live data (columns, indexes, validation of existing records), so the publish page
first shows what would happen and asks for a comment that explains the change to whoever reads the
history later; rollback publishes an older version as a new one (history is never rewritten).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.blueprints.errors import PackInvalid
from runtime.blueprints.model import label_text
from runtime.errors import BadRequest, TesseraError
from runtime.storage.deploy import DeployRefused
from ui.i18n import pick_language
from ui.routes.builder_common import Designer, crumbs, pack_errors, problem_rows, require_designer
from ui.routes.builder_home import pack_context, when
from ui.session import flash
from ui.templating import Crumb, render

router = APIRouter()
MAX_COMMENT = 2000


def readable(value: Any, lang: str, depth: int = 0) -> str:
    """A blueprint value as a short text a manager can read: labels in their language, lists joined."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, (int, float, str)):
        text = str(value)
        return text if len(text) <= 300 else text[:300] + "…"
    if isinstance(value, dict):
        if set(value) <= {"zh", "en"} and value:
            return str(value.get(lang) or value.get("zh") or value.get("en"))
        if depth > 1:
            return "{…}"
        parts = [f"{k}: {readable(v, lang, depth + 1)}" for k, v in list(value.items())[:8]]
        return "; ".join(parts) + ("; …" if len(value) > 8 else "")
    if isinstance(value, list):
        if depth > 1:
            return "[…]"
        parts = [readable(v, lang, depth + 1) for v in value[:10]]
        return "、".join(parts) + ("…" if len(value) > 10 else "")
    return str(value)


def change_rows(changes: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Diff entries grouped by file, each with its sentence and readable before/after."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in changes:
        summary = c.get("summary") or {}
        text = summary.get(lang) or summary.get("zh") or summary.get("en") if isinstance(summary, dict) else summary
        groups.setdefault(c.get("file") or "", []).append(
            {
                "change": c.get("change") or "changed",
                "pointer": c.get("pointer") or "",
                "summary": pick_language(str(text or ""), lang),
                "before": readable(c.get("before"), lang) if c.get("change") != "added" else "",
                "after": readable(c.get("after"), lang) if c.get("change") != "removed" else "",
            }
        )
    return [{"file": f, "changes": rows} for f, rows in groups.items()]


def version_rows(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**v, "when": when(v.get("created_at"))} for v in versions]


@router.get("/builder/{pack_id}/versions")
def versions_page(pack_id: str, request: Request) -> HTMLResponse:
    d = require_designer(request)
    pc = pack_context(d, pack_id)
    versions = version_rows(pc["ws"].versions(pack_id))
    return render(
        request,
        "builder/versions.html",
        d.user,
        crumbs=crumbs(d, pack_id, pc["pack"]["name"], Crumb(d.t("builder.tab.versions"))),
        page_title=d.t("builder.tab.versions"),
        pack=pc["pack"],
        versions=versions,
        current=versions[0]["number"] if versions else None,
    )


def _side(value: str | None, default: int | str) -> int | str:
    if value in (None, ""):
        return default
    if value == "draft":
        return "draft"
    if not value.isdigit() or len(value) > 9:
        raise BadRequest(f"'{value}' is neither a version number nor 'draft'")
    return int(value)


@router.get("/builder/{pack_id}/diff")
def diff_page(pack_id: str, request: Request, a: str | None = None, b: str | None = None) -> HTMLResponse:
    d = require_designer(request)
    pc = pack_context(d, pack_id)
    versions = version_rows(pc["ws"].versions(pack_id))
    newest = versions[0]["number"] if versions else 1
    right = _side(b, "draft" if pc["pack"]["dirty"] else newest)
    left = _side(a, newest if right == "draft" else max(1, int(right) - 1))
    changes = pc["ws"].diff(pack_id, left, right)
    return render(
        request,
        "builder/versions_diff.html",
        d.user,
        crumbs=crumbs(
            d,
            pack_id,
            pc["pack"]["name"],
            Crumb(d.t("builder.tab.versions"), f"/builder/{pack_id}/versions"),
            Crumb(d.t("builder.diff.title")),
        ),
        page_title=d.t("builder.diff.title"),
        pack=pc["pack"],
        versions=versions,
        a=str(left),
        b=str(right),
        groups=change_rows(changes, d.lang),
        count=len(changes),
    )


def _publish_page(
    request: Request,
    d: Designer,
    pack_id: str,
    *,
    errors: list[Any] | None = None,
    comment: str = "",
    status: int = 200,
) -> HTMLResponse:
    pc = pack_context(d, pack_id)
    ws = pc["ws"]
    preview: dict[str, Any] = {"steps": [], "problems": [], "errors": [], "invalid_records": []}
    changes: list[dict[str, Any]] = []
    if pc["pack"]["dirty"]:
        preview = ws.preview(pack_id)
        versions = ws.versions(pack_id)
        if versions:
            changes = ws.diff(pack_id, versions[0]["number"], "draft")
    blocking = problem_rows(list(preview.get("errors") or []) + list(errors or []), d.lang)
    return render(
        request,
        "builder/versions_publish.html",
        d.user,
        status=status,
        crumbs=crumbs(d, pack_id, pc["pack"]["name"], Crumb(d.t("builder.tab.publish"))),
        page_title=d.t("builder.tab.publish"),
        pack=pc["pack"],
        steps=preview.get("steps") or [],
        plan_problems=[pick_language(str(p), d.lang) for p in preview.get("problems") or []],
        invalid=[
            {**e, "label": label_text(e.get("label"), d.lang) or e.get("entity")}
            for e in preview.get("invalid_records") or []
        ],
        blocking=blocking,
        groups=change_rows(changes, d.lang),
        change_count=len(changes),
        comment=comment,
    )


@router.get("/builder/{pack_id}/publish")
def publish_page(pack_id: str, request: Request) -> HTMLResponse:
    d = require_designer(request)
    return _publish_page(request, d, pack_id)


@router.post("/builder/{pack_id}/publish")
async def publish(pack_id: str, request: Request) -> Response:
    d = require_designer(request)
    form = await request.form()
    comment = str(form.get("comment") or "").strip()[:MAX_COMMENT]
    if not comment:
        return _publish_page(
            request, d, pack_id, errors=[{"message": d.t("builder.publish.comment_required")}], status=422
        )
    try:
        version = d.workspace().publish(pack_id, user=d.user.username, user_id=d.user.id, comment=comment)
    except PackInvalid as exc:
        return _publish_page(request, d, pack_id, errors=pack_errors(exc), comment=comment, status=422)
    except TesseraError as exc:
        return _publish_page(request, d, pack_id, errors=pack_errors(exc), comment=comment, status=exc.status)
    except DeployRefused as exc:  # a plan that would lose data: say why, keep the draft and the comment
        refused = [{"message": p} for p in exc.problems]
        return _publish_page(request, d, pack_id, errors=refused, comment=comment, status=409)
    flash(request, "success", d.t("builder.published_as", number=version["number"]))
    return RedirectResponse(f"/builder/{pack_id}/versions", status_code=303)


@router.post("/builder/{pack_id}/versions/{number}/rollback")
async def rollback(pack_id: str, number: int, request: Request) -> Response:
    d = require_designer(request)
    form = await request.form()
    comment = str(form.get("comment") or "").strip()[:MAX_COMMENT] or d.t("builder.rollback.default_comment", n=number)
    try:
        version = d.workspace().rollback(pack_id, number, user=d.user.username, user_id=d.user.id, comment=comment)
    except PackInvalid as exc:
        rows = problem_rows(pack_errors(exc), d.lang)
        flash(request, "warning", d.t("builder.rollback.failed", message=rows[0]["message"] if rows else ""))
        return RedirectResponse(f"/builder/{pack_id}/versions", status_code=303)
    flash(request, "success", d.t("builder.rolled_back", number=number, new=version["number"]))
    return RedirectResponse(f"/builder/{pack_id}/versions", status_code=303)
