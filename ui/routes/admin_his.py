"""/admin/his: the HIS message log (runtime/his), newest first, filtered by outcome, type, patient and day,
and one message with its raw text, reply and error. Raw messages hold patient data: system administrators and
roles with the 'admin' right (the pack's IT administrator, who connects the HIS) only, as the API's message log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from runtime.errors import NotFound
from runtime.his.tables import OUTCOMES, his_messages
from ui.routes.admin_logs_common import (
    MAX_ID,
    PAGE_SIZE,
    QueryForm,
    before_id,
    local_time,
    page_url,
    require_admin,
)
from ui.templating import Crumb, render

router = APIRouter()
BASE = "/admin/his"
OUTCOME_STYLE = {
    "applied": "tf-action-create",
    "duplicate": "tf-action-update",
    "stale": "tf-action-update",
    "rejected": "tf-action-delete",
    "error": "tf-action-delete",
}


@dataclass
class MessageView:
    id: int
    received: str
    event_time: str
    channel: str
    control_id: str
    message_type: str
    patient_key: str
    outcome: str
    outcome_label: str
    style: str
    error: str


def _view(row: Any, t: Any) -> MessageView:
    m = row._mapping
    return MessageView(
        id=m["id"],
        received=local_time(m["received_at"]),
        event_time=local_time(m["event_time"]),
        channel=m["channel"],
        control_id=m["control_id"] or "",
        message_type=m["message_type"],
        patient_key=m["patient_key"] or "",
        outcome=m["outcome"],
        outcome_label=t(f"his.outcome.{m['outcome']}"),
        style=OUTCOME_STYLE.get(m["outcome"], "tf-action-update"),
        error=m["error"] or "",
    )


@router.get(BASE)
def his_log_page(request: Request) -> HTMLResponse:
    page = require_admin(request, admin_right=True)
    form = QueryForm(request, page.lang)
    outcome = form.choice("outcome", OUTCOMES)
    kind = form.text("type", 40)
    patient = form.text("patient", 100)
    since, until = form.date_range()
    cursor = before_id(request)
    rows: list[Any] = []
    next_id = None
    if form.valid:
        where = []
        if outcome:
            where.append(his_messages.c.outcome == outcome)
        if kind:
            where.append(his_messages.c.message_type.like(f"%{kind}%"))
        if patient:
            where.append(his_messages.c.patient_key == patient)
        if since:
            where.append(his_messages.c.received_at >= since)
        if until:
            where.append(his_messages.c.received_at < until)
        if cursor:
            where.append(his_messages.c.id < cursor)
        columns = [c for c in his_messages.c if c.name not in ("raw", "reply", "detail")]
        query = sa.select(*columns).where(*where).order_by(his_messages.c.id.desc()).limit(PAGE_SIZE + 1)
        with page.app.db.read() as conn:
            rows = conn.execute(query).all()
        if len(rows) > PAGE_SIZE:
            rows = rows[:PAGE_SIZE]
            next_id = rows[-1].id
    return render(
        request,
        "admin/his/messages.html",
        page.user,
        crumbs=[Crumb(page.t("logs.hub.title"), "/admin"), Crumb(page.t("his.title"))],
        page_title="his.title",
        form=form,
        entries=[_view(r, page.t) for r in rows],
        outcomes=[(o, page.t(f"his.outcome.{o}")) for o in OUTCOMES],
        base=BASE,
        older_url=page_url(BASE, form.raw, before_id=next_id) if next_id else None,
        newest_url=page_url(BASE, form.raw) if cursor else None,
    )


@router.get(BASE + "/{message_id}")
def his_message_page(message_id: str, request: Request) -> HTMLResponse:
    page = require_admin(request, admin_right=True)
    row = None
    if message_id.isascii() and message_id.isdigit() and 1 <= int(message_id) <= MAX_ID:
        with page.app.db.read() as conn:
            row = conn.execute(sa.select(his_messages).where(his_messages.c.id == int(message_id))).first()
    if row is None:
        raise NotFound(page.t("his.missing", id=message_id[:40]))
    title = page.t("his.detail_title", id=row.id)
    return render(
        request,
        "admin/his/message_detail.html",
        page.user,
        crumbs=[Crumb(page.t("logs.hub.title"), "/admin"), Crumb(page.t("his.title"), BASE), Crumb(title)],
        page_title=title,
        title=title,
        message=_view(row, page.t),
        raw=(row.raw or "").replace("\r", "\n"),
        reply=(row.reply or "").replace("\r", "\n"),
        detail=json.dumps(row.detail, ensure_ascii=False, indent=2) if row.detail else "",
    )
