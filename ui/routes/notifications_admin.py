"""Administrators' pages of the notifications: /admin/templates (list + preview) and /admin/deliveries (the log).

The preview renders a template with a sample record the administrator picks, Chinese and English side by
side, through the same code as a real send (runtime/notify/preview.py): a merge field that cannot be
filled shows its error here, not in a patient's SMS.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.api.routes_notify import STATUSES, delivery_rows
from runtime.blueprints.model import label_text
from runtime.errors import BadRequest, NotFound
from runtime.notify.channels import CHANNELS
from runtime.notify.preview import preview
from runtime.records.query import ListQuery
from ui.formatting import local_datetime_text
from ui.routes.admin_logs_common import MAX_ID, require_admin
from ui.session import flash
from ui.templating import Crumb, render, render_fragment

router = APIRouter()
LOG_LIMIT = 200
SAMPLES = 30


def _template_rows(app: Any, lang: str) -> list[dict[str, Any]]:
    rows = []
    for ident, doc in sorted(app.notifier.templates().items()):
        entity = app.registry.entities.get(doc.get("entity") or "")
        rows.append(
            {
                "id": ident,
                "label": label_text(doc.get("label") or ident, lang),
                "entity": doc.get("entity"),
                "entity_label": entity.label_in(lang) if entity is not None else "",
                "channels": [c for c in CHANNELS if c in doc["channels"]],
            }
        )
    return rows


def _samples(app: Any, entity_id: str | None, ctx: Any) -> list[dict[str, Any]]:
    if not entity_id or entity_id not in app.registry.entities:
        return []
    page = app.records.list(entity_id, ListQuery(sort=[("id", True)], limit=SAMPLES, count="none"), ctx)
    ids = [r["id"] for r in page.items]
    titles = app.records.titles(entity_id, ids, ctx) if ids else {}
    return [{"id": i, "title": titles.get(i) or f"#{i}"} for i in ids]


@router.get("/admin/templates")
def templates_page(request: Request) -> Response:
    page = require_admin(request)
    rows = _template_rows(page.app, page.lang)
    chosen = request.query_params.get("template") or (rows[0]["id"] if rows else "")
    current = next((r for r in rows if r["id"] == chosen), rows[0] if rows else None)
    ctx = page.ctx
    samples = _samples(page.app, current and current["entity"], ctx)
    return render(
        request,
        "notify/templates.html",
        page.user,
        crumbs=[Crumb(page.t("logs.hub.title"), "/admin"), Crumb(page.t("notify.templates.title"))],
        page_title="notify.templates.title",
        rows=rows,
        current=current,
        samples=samples,
        preview_html=_preview_html(request, page, current, samples[0]["id"] if samples else None),
    )


def _preview_html(request: Request, page: Any, current: dict | None, rid: int | None) -> str:
    if current is None:
        return ""
    result = None
    error = None
    if current["entity"] and rid is None:
        error = page.t("notify.templates.no_records")
    else:
        try:
            result = preview(page.app, current["id"], rid, ["zh", "en"], page.ctx)
        except (BadRequest, NotFound) as exc:
            error = exc.message
    return render_fragment(request, "notify/preview.html", page.user, result=result, error=error, current=current)


@router.get("/admin/templates/{template_id}/preview")
def preview_fragment(request: Request, template_id: str) -> Response:
    page = require_admin(request)
    current = next((r for r in _template_rows(page.app, page.lang) if r["id"] == template_id), None)
    if current is None:
        raise NotFound(f"unknown message template '{template_id[:100]}'")
    raw = request.query_params.get("record_id") or ""
    rid = int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID else None
    return HTMLResponse(_preview_html(request, page, current, rid))


@router.get("/admin/deliveries")
def deliveries_page(request: Request) -> Response:
    page = require_admin(request)
    status = request.query_params.get("status") or ""
    channel = request.query_params.get("channel") or ""
    if (status and status not in STATUSES) or (channel and channel not in CHANNELS):
        raise BadRequest(page.t("notify.bad_filter", value=(status or channel)[:40]))
    rows = delivery_rows(page.app, status or None, channel or None, LOG_LIMIT)
    for r in rows:
        r["created_text"] = local_datetime_text(r["created_at"])
        r["sent_text"] = local_datetime_text(r["sent_at"]) if r["sent_at"] else ""
        r["retryable"] = r["status"] in ("failed", "skipped") and r["channel"] != "in_app"
    return render(
        request,
        "notify/deliveries.html",
        page.user,
        crumbs=[Crumb(page.t("logs.hub.title"), "/admin"), Crumb(page.t("notify.deliveries.title"))],
        page_title="notify.deliveries.title",
        rows=rows,
        statuses=STATUSES,
        channels=CHANNELS,
        shown_status=status,
        shown_channel=channel,
        limit=LOG_LIMIT if len(rows) == LOG_LIMIT else None,
    )


@router.post("/admin/deliveries/{delivery_id}/retry")
def retry_delivery(request: Request, delivery_id: str) -> Response:
    page = require_admin(request)
    valid = delivery_id.isascii() and delivery_id.isdigit() and 1 <= int(delivery_id) <= MAX_ID
    try:
        queued = valid and page.app.notifier.retry(int(delivery_id))
    except NotFound:
        queued = False
    if queued:
        flash(request, "success", page.t("notify.deliveries.retried", id=delivery_id))
    else:
        flash(request, "warning", page.t("notify.deliveries.not_retryable", id=delivery_id[:40]))
    return RedirectResponse("/admin/deliveries", status_code=303)
