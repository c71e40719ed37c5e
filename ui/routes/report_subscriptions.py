"""/reports/{id}/subscriptions: who receives a report on a schedule, set up with the mouse.

An administrator picks the period (daily, weekly, monthly), the channels (e-mail with the file attached,
in-app), the recipients (users and/or roles) and the file format; the report's current parameters (as on
the report page the button came from) travel with the subscription. Sending is the job of
runtime/reports/subscriptions.py; this page only manages the rows, through the same service as the API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from runtime.api.deps import record_id
from runtime.api.deps import tessera as get_tessera
from runtime.blueprints.model import label_text
from runtime.errors import BadRequest, NotFound
from runtime.reports.subscriptions import CHANNELS, FREQUENCIES
from runtime.storage import platform_tables as pt
from ui.formatting import local_datetime_text
from ui.i18n import t
from ui.session import require_user, ui_context
from ui.templating import Crumb, render

router = APIRouter()


def _people(app: Any) -> list[tuple[int, str]]:
    users = pt.users
    with app.db.read() as conn:
        rows = conn.execute(
            sa.select(users.c.id, users.c.username, users.c.display_name)
            .where(users.c.active.is_(True))
            .order_by(users.c.username)
        )
        return [(r.id, f"{r.display_name or r.username}（{r.username}）") for r in rows]


def _page(request: Request, report_id: str, *, error: str | None = None, form: dict | None = None) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    ctx = ui_context(request, user)
    app.reports.subscriptions.require_manage(ctx, report_id)  # unknown: 404
    report = app.reports.engine.report(report_id)
    title = report.title(ctx.lang)
    people = dict(_people(app))
    roles = {r.id: label_text(r.label, ctx.lang) for r in app.registry.roles.values()}
    rows = []
    for s in app.reports.subscriptions.list(report_id):
        rows.append(
            {
                "id": s["id"],
                "frequency": s["frequency"],
                "channels": s["channels"],
                "format": s["format"],
                "users": [people.get(u, f"#{u}") for u in s["user_ids"]],
                "roles": [roles.get(r, r) for r in s["roles"]],
                "params": urlencode(s["params"] or {}),
                "next_run": local_datetime_text(s["next_run_at"].isoformat() if s["next_run_at"] else None),
            }
        )
    query = request.query_params.get("params", "")
    return render(
        request,
        "reports/subscriptions.html",
        user,
        status=400 if error else 200,
        report_id=report_id,
        title=title,
        rows=rows,
        people=sorted(people.items(), key=lambda p: p[1]),
        roles=sorted(roles.items()),
        frequencies=FREQUENCIES,
        channels=CHANNELS,
        params=(form or {}).get("params", query),
        form=form or {"frequency": "weekly", "channels": ["email"], "format": "xlsx"},
        error=error,
        page_title="reports.subs.title",
        crumbs=[
            Crumb(t(ctx.lang, "reports.title"), "/reports"),
            Crumb(title, f"/reports/{report_id}"),
            Crumb(t(ctx.lang, "reports.subs.title")),
        ],
    )


@router.get("/reports/{report_id}/subscriptions")
def subscriptions_page(report_id: str, request: Request) -> Response:
    return _page(request, report_id)


@router.post("/reports/{report_id}/subscriptions")
async def add_subscription(report_id: str, request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    ctx = ui_context(request, user)
    app.reports.subscriptions.require_manage(ctx, report_id)
    data = await request.form()
    form = {
        "frequency": str(data.get("frequency", "")),
        "channels": [str(c) for c in data.getlist("channels")],
        "format": str(data.get("format", "xlsx")),
        "user_ids": [str(u) for u in data.getlist("user_ids")],
        "roles": [str(r) for r in data.getlist("roles")],
        "params": str(data.get("params", ""))[:2000],
    }
    try:
        if not form["channels"]:
            raise BadRequest(t(ctx.lang, "reports.subs.no_channel"))
        if not (form["user_ids"] or form["roles"]):
            raise BadRequest(t(ctx.lang, "reports.subs.no_recipient"))
        app.reports.subscriptions.create(
            report_id,
            frequency=form["frequency"],
            user_ids=[record_id(u) for u in form["user_ids"]],
            roles=form["roles"],
            channels=form["channels"],
            params=dict(parse_qsl(form["params"])),
            fmt=form["format"],
            created_by=user.id,
        )
    except BadRequest as exc:
        return _page(request, report_id, error=str(exc), form=form)
    return RedirectResponse(f"/reports/{report_id}/subscriptions?added=1", status_code=303)


@router.post("/reports/{report_id}/subscriptions/{sub_id}/delete")
def delete_subscription(report_id: str, sub_id: str, request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    sid = record_id(sub_id)
    if app.reports.subscriptions.report_of(sid) != report_id:
        raise NotFound(f"no subscription {sid} of the report '{report_id}'")
    app.reports.subscriptions.require_manage(ui_context(request, user), report_id)
    app.reports.subscriptions.delete(sid)
    return RedirectResponse(f"/reports/{report_id}/subscriptions?deleted=1", status_code=303)
