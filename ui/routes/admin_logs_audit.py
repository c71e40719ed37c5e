"""The audit trail in the browser: the administrator's viewer (/admin/audit) and a record's history
fragment (/r/{entity}/{id}/history), which the detail page loads lazily with htmx.

Both read through ``runtime.audit`` exactly like the API: the viewer with sensitive values sealed,
the history only for someone who may read the record, with that reader's field masking.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from runtime import audit
from runtime.api.deps import record_id as parse_record_id
from runtime.api.deps import tessera as get_tessera
from runtime.errors import NotFound
from runtime.records.context import CHANNELS
from ui.routes.admin_logs_common import (
    PAGE_SIZE,
    QueryForm,
    before_id,
    coded_label,
    page_url,
    require_admin,
    user_options,
)
from ui.routes.admin_logs_diff import EntryFormatter
from ui.session import require_user, ui_context
from ui.templating import Crumb, render, render_fragment

router = APIRouter()
ACTIONS = ("create", "update", "delete")
HISTORY_PAGE = 20
BASE = "/admin/audit"


@router.get(BASE)
def audit_page(request: Request) -> HTMLResponse:
    page = require_admin(request)
    app, lang = page.app, page.lang
    form = QueryForm(request, lang)
    entity = form.choice("entity", tuple(app.registry.entities))
    record = form.integer("record_id")
    actor = form.user_id("actor", app)
    channel = form.choice("channel", CHANNELS)
    action = form.choice("action", ACTIONS)
    request_id = form.text("request_id", 64)
    since, until = form.date_range()
    cursor = before_id(request)
    entries, next_id = [], None
    if form.valid:
        filters = audit.AuditFilter(
            entity=entity,
            record_id=record,
            actor_id=actor,
            channel=channel,
            action=action,
            request_id=request_id,
            since=since,
            until=until,
        )
        result = audit.admin_search(app.db, filters, limit=PAGE_SIZE, before_id=cursor)
        entries = EntryFormatter(app, page.ctx).entries(result.items)
        next_id = result.next_before_id
    entity_options = sorted(
        ((e.id, e.label_in(lang)) for e in app.registry.entities.values()), key=lambda pair: pair[1]
    )
    return render(
        request,
        "admin/logs/audit.html",
        page.user,
        crumbs=[Crumb(page.t("logs.hub.title"), "/admin"), Crumb(page.t("logs.audit.title"))],
        page_title="logs.audit.title",
        form=form,
        entries=entries,
        entity_options=entity_options,
        users=user_options(app),
        channels=[(c, coded_label("logs.channel.", c, lang)) for c in CHANNELS],
        actions=[(a, coded_label("logs.action.", a, lang)) for a in ACTIONS],
        base=BASE,
        older_url=page_url(BASE, form.raw, before_id=next_id) if next_id else None,
        newest_url=page_url(BASE, form.raw) if cursor else None,
    )


@router.get("/r/{entity_id}/{rid}/history")
def record_history(entity_id: str, rid: str, request: Request) -> Response:
    """The "变更记录" section of a record page: anyone who may read the record, with their masking."""
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    if not rid.isascii():
        raise NotFound(f"no record with id '{rid[:40]}'")
    ident = parse_record_id(rid)
    cursor = before_id(request)
    result = audit.record_history(app, entity_id, ident, ctx, limit=HISTORY_PAGE, before_id=cursor)
    entries = EntryFormatter(app, ctx, masked_for_viewer=True).entries(result.items, link_records=False)
    older = f"/r/{entity_id}/{ident}/history?before_id={result.next_before_id}" if result.next_before_id else None
    html = render_fragment(
        request,
        "partials/record_history.html",
        user,
        entries=entries,
        older_url=older,
        continued=cursor is not None,
    )
    return HTMLResponse(html)
