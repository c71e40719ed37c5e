"""统计报表 pages: /reports (list), /reports/{id} (parameters, chart, table, export, print), /dashboards/{id}.

Parameters (date range, grain, the report's own filters such as department) are a GET form; htmx swaps only
the result when one changes, and the URL keeps them so a link or a reload shows the same numbers.
Every cell links to the records behind it (the records list with the same filters, in the viewer's scope).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from runtime.api.deps import tessera as get_tessera
from runtime.blueprints.model import label_text
from runtime.errors import Forbidden, NotFound
from runtime.reports import charts
from runtime.reports.engine import ReportResult
from runtime.reports.output import cell_text
from runtime.reports.periods import GRAINS
from runtime.storage import platform_tables as pt
from ui.formatting import local_datetime_text
from ui.i18n import t
from ui.routes import dashboard_items
from ui.session import require_user, ui_context
from ui.templating import Crumb, render, render_fragment

router = APIRouter()
FIXED = ("from", "to", "grain", "period")


def _params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k not in ("fragment",) and v.strip()}


def _controls(app: Any, result: ReportResult, lang: str) -> list[dict[str, Any]]:
    """The report's own parameters as form controls (a select for departments and option sets)."""
    out = []
    entity = app.registry.entity(result.report.entity)
    for p in result.report.parameters:
        f = entity.field(p.field)
        choices: list[tuple[str, str]] = []
        if p.field == "department_id" or (f is not None and f.type == "department"):
            with app.db.read() as conn:
                rows = conn.execute(
                    sa.select(pt.departments.c.id, pt.departments.c.name).order_by(pt.departments.c.name)
                )
                choices = [(str(r.id), r.name) for r in rows]
        elif f is not None and f.type == "select":
            oset = app.registry.option_sets.get(f.opt("option_set"))
            choices = [(o.value, label_text(o.label, lang)) for o, _ in (oset.flat() if oset else [])]
        out.append({"name": p.name, "label": label_text(p.label, lang), "choices": choices,
                    "value": result.params.get(p.name, "")})  # fmt: skip
    return out


def _view(
    result: ReportResult, lang: str, view: str | None = None, measure: str | None = None, measures: list | None = None
) -> dict[str, Any]:
    """What the templates need: header, rows of (text, link) cells, the chart option and the number card."""
    entity = result.report.entity
    cols = result.columns
    rows = []
    for r in result.rows:
        cells = []
        for c in cols:
            text = cell_text(r.values.get(c.key), c)
            link = None
            if c.kind == "measure" and r.drill and r.values.get(c.key) is not None:
                link = f"/r/{entity}?{r.drills.get(c.key) or r.drill}"
            cells.append({"text": text, "href": link, "num": c.kind in ("measure", "compare"), "key": c.key})
        rows.append({"level": r.level, "cells": cells})
    kind = view or result.report.chart.get("type", "bar")
    chart = None if kind in ("table", "number") else charts.option(result, kind, measure, measures)
    return {
        "title": result.title,
        "columns": cols,
        "rows": rows,
        "view": kind,
        "chart_json": json.dumps(chart, ensure_ascii=False, default=str) if chart else "",
        "card": charts.number_card(result, measure) if kind == "number" else None,
        "range_text": t(
            lang, "reports.range", start=result.window.start.isoformat(), end=result.window.end.isoformat()
        ),
        "notes": result.notes,
        "entity": entity,
        "empty": not any(r.level == "row" for r in result.rows),
    }


@router.get("/reports")
def reports_list(request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    ctx = ui_context(request, user)
    items = [{"id": r.id, "title": r.title(ctx.lang), "entity": app.registry.entity(r.entity).label_in(ctx.lang)}
             for r in app.reports.engine.visible(ctx)]  # fmt: skip
    boards = [
        {"id": d, "title": label_text(doc.get("label"), ctx.lang)}
        for d, doc in sorted(app.reports.dashboards().items())
    ]
    return render(request, "reports/list.html", user, items=items, boards=boards, page_title="reports.title",
                  crumbs=[Crumb(t(ctx.lang, "reports.title"))])  # fmt: skip


@router.get("/reports/{report_id}")
def report_page(report_id: str, request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    ctx = ui_context(request, user)
    params = _params(request)
    result = app.reports.run(report_id, ctx, params)
    view = _view(result, ctx.lang)
    if request.query_params.get("fragment") or request.headers.get("HX-Request"):
        return HTMLResponse(render_fragment(request, "reports/_result.html", user, r=view, item_id="report"))
    query = urlencode({k: v for k, v in params.items()})
    return render(
        request,
        "reports/report.html",
        user,
        r=view,
        report_id=report_id,
        controls=_controls(app, result, ctx.lang),
        grain=result.grain or "none",
        grains=("none", *GRAINS),
        start=result.window.start.isoformat(),
        end=result.window.end.isoformat(),
        query=query,
        may_subscribe=app.reports.subscriptions.may_manage(ctx, report_id),
        page_title="reports.title",
        crumbs=[Crumb(t(ctx.lang, "reports.title"), "/reports"), Crumb(result.title)],
    )


@router.get("/reports/{report_id}/print")
def report_print(report_id: str, request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    ctx = ui_context(request, user)
    result = app.reports.run(report_id, ctx, _params(request))
    app.permissions.require(ctx, result.report.entity, "print")
    when = local_datetime_text(app.clock.now().isoformat())
    return render(
        request,
        "reports/print.html",
        user,
        r=_view(result, ctx.lang, "table"),
        when=when,
        page_title=result.title,
        site_name=app.params.get("site.name"),
        back_url=f"/reports/{report_id}?{urlencode(_params(request))}",
        entity_label=app.registry.entity(result.report.entity).label_in(ctx.lang),
        masked=bool(result.masked),
        printed_by=user.display_name or user.username,
        printed_at=when,
    )


def _dashboard(
    request: Request, dashboard_id: str | None
) -> tuple[Any, dict[str, Any] | None, list[dict[str, Any]], dict]:
    user = require_user(request)
    app = get_tessera(request)
    ctx = ui_context(request, user)
    doc = app.reports.home_dashboard(ctx) if dashboard_id is None else app.reports.dashboards().get(dashboard_id)
    if doc is None:
        if dashboard_id is None:
            return user, None, [], {}
        raise NotFound(f"no dashboard '{dashboard_id}'")
    params = _params(request)
    if doc.get("period") and not any(k in params for k in ("from", "to", "period")):
        params["period"] = doc["period"]
    items = []
    for i, item in enumerate(doc["items"]):
        if item.get("kind", "report") != "report":  # combined, schedule, reminders, quick_create
            extra = dashboard_items.entry(request, user, ctx, app, item, params)
            items.append({"id": f"item-{i}", "width": item.get("width", 12), **extra})
            continue
        entry: dict[str, Any] = {"id": f"item-{i}", "width": item.get("width", 6), "report": item["report"]}
        try:
            result = app.reports.run(item["report"], ctx, params)
        except Forbidden as exc:
            entry["error"] = str(exc)
            items.append(entry)
            continue
        if item.get("limit"):  # a top-N ranking (runtime/reports/items.py)
            result = dashboard_items.I.top_rows(result, item.get("measure"), item["limit"])
        entry["r"] = _view(result, ctx.lang, item.get("view"), item.get("measure"), item.get("measures"))
        if item.get("title"):
            entry["r"]["title"] = label_text(item["title"], ctx.lang)
        entry["controls"] = _controls(app, result, ctx.lang)
        entry["start"], entry["end"] = result.window.start.isoformat(), result.window.end.isoformat()
        items.append(entry)
    return user, doc, items, params


@router.get("/dashboards/_home")
def home_slot(request: Request) -> Response:
    """The dashboard of the viewer's role, for the home page (loaded by htmx; empty when none fits)."""
    user, doc, items, _ = _dashboard(request, None)
    if doc is None:
        return HTMLResponse("")
    html = render_fragment(request, "reports/_dashboard_body.html", user, items=items, doc=doc, dashboard_id=doc["id"])
    return HTMLResponse(html)


@router.get("/dashboards/{dashboard_id}")
def dashboard_page(dashboard_id: str, request: Request) -> Response:
    user, doc, items, params = _dashboard(request, dashboard_id)
    assert doc is not None
    if request.headers.get("HX-Request"):
        body = render_fragment(
            request, "reports/_dashboard_body.html", user, items=items, doc=doc, dashboard_id=dashboard_id
        )
        return HTMLResponse(body)
    controls: dict[str, dict[str, Any]] = {}
    for it in items:
        for c in it.get("controls", []):  # combined / schedule items have none
            controls.setdefault(c["name"], c)
    first = next((it for it in items if "start" in it), {})
    lang = "en" if ui_context(request, user).lang == "en" else "zh"
    title = label_text(doc.get("label"), lang)
    return render(
        request,
        "reports/dashboard.html",
        user,
        doc=doc,
        title=title,
        items=items,
        dashboard_id=dashboard_id,
        controls=list(controls.values()),
        start=first.get("start", ""),
        end=first.get("end", ""),
        params=params,
        page_title="reports.dashboard",
        crumbs=[Crumb(t(lang, "reports.title"), "/reports"), Crumb(title)],
    )
