"""/admin/oplog: the operation log (sign-ins, failed sign-ins, exports, imports, deploys, permission,
token and settings changes), newest first, with filters and keyset paging.

Each entry's ``detail`` is a small JSON document whose keys depend on the kind; known keys get
a label and a readable value (reasons translated, [old, new] pairs as "old → new", times local),
unknown keys are shown as they are, so a new kind of entry is never hidden.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from runtime import oplog
from runtime.blueprints.model import label_text
from runtime.errors import NotFound
from runtime.services import Tessera
from ui.i18n import MESSAGES, t
from ui.routes.admin_logs_common import (
    PAGE_SIZE,
    QueryForm,
    before_id,
    coded_label,
    local_time,
    page_url,
    require_admin,
    user_options,
)
from ui.templating import Crumb, render

router = APIRouter()
BASE = "/admin/oplog"
TIME_KEYS = {"locked_until", "when", "at", "expires_at"}


@dataclass
class OpView:
    id: int
    at: str
    kind: str
    kind_label: str
    username: str
    ip: str
    request_id: str | None
    detail: list[tuple[str, str]]


@router.get(BASE)
def oplog_page(request: Request) -> HTMLResponse:
    page = require_admin(request)
    app, lang = page.app, page.lang
    form = QueryForm(request, lang)
    kind = form.choice("kind", oplog.KINDS)
    username = form.text("user", 64)
    ip = form.text("ip", 64)
    request_id = form.text("request_id", 64)
    since, until = form.date_range()
    cursor = before_id(request)
    entries: list[OpView] = []
    next_id = None
    if form.valid:
        filters = oplog.OpFilter(kind=kind, username=username, ip=ip, request_id=request_id, since=since, until=until)
        rows = oplog.query_operations(app.db, filters, limit=PAGE_SIZE + 1, before_id=cursor)
        if len(rows) > PAGE_SIZE:
            rows = rows[:PAGE_SIZE]
            next_id = rows[-1]["id"]
        entries = [_view(app, row, lang) for row in rows]
    return render(
        request,
        "admin/logs/oplog.html",
        page.user,
        crumbs=[Crumb(page.t("logs.hub.title"), "/admin"), Crumb(page.t("logs.oplog.title"))],
        page_title="logs.oplog.title",
        form=form,
        entries=entries,
        kinds=[(kind, kind_label(kind, lang)) for kind in oplog.KINDS],
        users=user_options(app),
        base=BASE,
        older_url=page_url(BASE, form.raw, before_id=next_id) if next_id else None,
        newest_url=page_url(BASE, form.raw) if cursor else None,
    )


def _view(app: Tessera, row: dict[str, Any], lang: str) -> OpView:
    return OpView(
        id=row["id"],
        at=local_time(row["at"]),
        kind=row["kind"],
        kind_label=kind_label(row["kind"], lang),
        username=row.get("username") or (f"#{row['actor_id']}" if row.get("actor_id") else ""),
        ip=row.get("ip") or "",
        request_id=row.get("request_id"),
        detail=detail_pairs(app, row.get("detail") or {}, lang),
    )


def kind_label(kind: str, lang: str) -> str:
    return coded_label("logs.kind.", kind, lang)


def detail_pairs(app: Tessera, detail: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """(label, text) for each key of an entry's detail, in a person's words."""
    pairs: list[tuple[str, str]] = []
    for key, value in detail.items():
        if key == "params" and isinstance(value, dict):
            pairs += [(_param_label(app, k, lang), _change(v, lang)) for k, v in value.items()]
        elif key == "enabled" and isinstance(value, list) and len(value) == 2:
            on, off = t(lang, "logs.settings.on"), t(lang, "logs.settings.off")
            pairs.append((_label(key, lang), " → ".join(on if v else off for v in value)))
        else:
            pairs.append((_label(key, lang), _text(key, value, lang)))
    return pairs


def _label(key: str, lang: str) -> str:
    message = f"logs.detail.{key}"
    return t(lang, message) if message in MESSAGES else key


def _param_label(app: Tessera, key: str, lang: str) -> str:
    try:
        label = app.params.param(key).label
    except NotFound:
        return key
    return label_text(label, lang) if label else key


def _change(value: Any, lang: str) -> str:
    if isinstance(value, list) and len(value) == 2:
        return " → ".join(_text("", v, lang) for v in value)
    return _text("", value, lang)


def _text(key: str, value: Any, lang: str) -> str:
    if key == "ok" and isinstance(value, bool):
        return t(lang, f"logs.value.ok_{str(value).lower()}")
    if key == "reason" and isinstance(value, str) and f"logs.reason.{value}" in MESSAGES:
        return t(lang, f"logs.reason.{value}")
    if key in ("event", "target") and isinstance(value, str) and f"logs.event.{value}" in MESSAGES:
        return t(lang, f"logs.event.{value}")
    if key == "changed" and isinstance(value, list):
        return _joiner(lang).join(_label(str(v), lang) for v in value)
    if key in TIME_KEYS and isinstance(value, str):
        return local_time(value)
    if isinstance(value, bool):
        return t(lang, f"logs.value.{str(value).lower()}")
    if value is None:
        return "—"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ("\n" if key == "summary" else _joiner(lang)).join(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _joiner(lang: str) -> str:
    return "、" if lang == "zh" else ", "
