"""The non-report items of a dashboard as the page shows them (runtime/reports/items.py computes the data).

* combined: the side-by-side table of several reports' measures (one row per liaison, say);
* schedule: the viewer's dated records of today / this week, then their own open tasks and follow-up work
  due by the end of that range (overdue ones first), each linking to the record or task;
* reminders: unread notifications and overdue tasks;
* quick_create: buttons opening create forms.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request

from runtime.blueprints.model import label_text
from runtime.clock import local_zone
from runtime.errors import BadRequest, Forbidden
from runtime.identity.users import User
from runtime.notify import inbox
from runtime.records.context import Context
from runtime.reports import items as I
from ui.formatting import display
from ui.lookups import Lookups
from ui.routes.tasks_common import Page
from ui.routes.tasks_reminder import overdue_reminder

TITLES = {
    "schedule": {"zh": "今日日程", "en": "Today's schedule"},
    "schedule_week": {"zh": "本周日程", "en": "This week"},
    "schedule_next": {"zh": "近期日程", "en": "Coming up"},
    "reminders": {"zh": "提醒", "en": "Reminders"},
    "quick_create": {"zh": "快速新建", "en": "Quick create"},
}
SHOWN = 5


def entry(
    request: Request, user: User, ctx: Context, app: Any, item: dict[str, Any], params: dict[str, str]
) -> dict[str, Any]:
    """The template data of one non-report item (`kind` picks the partial reports/_item_<kind>.html)."""
    kind = I.kind_of(item)
    lang = "en" if ctx.lang == "en" else "zh"
    title_key = kind
    if kind == "schedule" and item.get("range", "today") != "today":
        title_key = "schedule_week" if item["range"] == "this_week" else "schedule_next"
    title = label_text(item.get("title"), lang) or TITLES.get(title_key, {}).get(lang)
    out: dict[str, Any] = {"kind": kind, "title": title}
    try:
        if kind == "combined":
            out["c"] = I.run_combined(app, ctx, item, params)
            out["title"] = out["c"].title
        elif kind == "schedule":
            out.update(_schedule(request, user, ctx, app, item, lang))
        elif kind == "reminders":
            out.update(_reminders(request, user, app))
        elif kind == "quick_create":
            out["buttons"] = I.quick_create(app, ctx, item)
    except (Forbidden, BadRequest) as exc:
        out["error"] = str(exc)
    return out


def _schedule(
    request: Request, user: User, ctx: Context, app: Any, item: dict[str, Any], lang: str
) -> dict[str, Any]:
    rows = I.schedule_records(app, ctx, item)
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_entity.setdefault(r["entity"], []).append(r)
    for eid, recs in by_entity.items():
        entity = app.registry.entity(eid)
        lookups = Lookups(app, ctx).prime(entity.fields, [r["record"] for r in recs])
        for r in recs:
            r["details"] = []
            for name in r["fields"]:
                f = entity.field(name)
                cell = display(f, r["record"].get(name), lang, app.registry, lookups)
                if cell.kind != "empty":
                    r["details"].append({"label": label_text(f.label, lang), "cell": cell})
    window = I.schedule_range(app, item)
    tasks = _due_tasks(request, user, app, window.end) if item.get("tasks", True) else []
    # "first"/"last", not "start"/"end": those name the report date range of the dashboard page's controls
    return {"records": rows, "tasks": tasks, "first": window.start.isoformat(), "last": window.end.isoformat()}


def _due_tasks(request: Request, user: User, app: Any, last_day: Any) -> list[dict[str, Any]]:
    """The viewer's own open tasks and follow-up work due by the end of `last_day` (local), overdue first."""
    from ui.routes.tasks_inbox import inbox_rows
    from ui.session import ui_context

    p = Page(request, user, ui_context(request, user), app)
    end_local = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=local_zone())
    end_utc = end_local.astimezone(UTC).replace(tzinfo=None)
    out = []
    for row in inbox_rows(p, status="open"):
        if row.get("assignee_id") != user.id or not row.get("due_at"):
            continue
        due = datetime.fromisoformat(str(row["due_at"])).replace(tzinfo=None)
        if due < end_utc:
            out.append(row)
    out.sort(key=lambda r: str(r["due_at"]))
    return out[:10]


def _reminders(request: Request, user: User, app: Any) -> dict[str, Any]:
    overdue = overdue_reminder(request, user)
    unread = inbox.listing(app.db, user.id, unread_only=True, limit=SHOWN)
    return {"overdue": overdue, "unread": unread, "unread_count": inbox.unread_count(app.db, user.id)}
