"""Reports over HTTP: run (JSON), export (CSV / Excel), dashboards and scheduled-delivery subscriptions.

Query parameters of a run: from, to (local dates), period (this_month...), grain (day..year or none),
plus the report's own parameters (e.g. department). Every number is the caller's data scope.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from runtime.api.deps import MAX_ID, context, current_user, record_id, tessera
from runtime.errors import BadRequest, Forbidden, NotFound
from runtime.reports.engine import ReportResult
from runtime.reports.output import cell_text

router = APIRouter(prefix="/api/v1", tags=["reports"])


def params_of(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k != "format"}


def result_json(result: ReportResult) -> dict[str, Any]:
    entity = result.report.entity
    return {
        "id": result.report.id,
        "title": result.title,
        "entity": entity,
        "from": result.window.start.isoformat(),
        "to": result.window.end.isoformat(),
        "grain": result.grain,
        "notes": result.notes,
        "columns": [{"key": c.key, "label": c.label, "kind": c.kind, "format": c.format} for c in result.columns],
        "rows": [
            {
                "level": r.level,
                "values": {c.key: _json(r.values.get(c.key)) for c in result.columns},
                "text": {c.key: cell_text(r.values.get(c.key), c) for c in result.columns},
                "records": f"/api/v1/records/{entity}?{r.drill}" if r.drill else None,
                "cell_records": {m: f"/api/v1/records/{entity}?{q}" for m, q in r.drills.items()},
            }
            for r in result.rows
        ],
    }


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


@router.get("/reports")
def list_reports(request: Request) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    ctx = context(request, user)
    return {
        "items": [{"id": r.id, "title": r.title(ctx.lang), "entity": r.entity} for r in app.reports.engine.visible(ctx)]
    }


@router.get("/reports/{report_id}")
def run_report(report_id: str, request: Request) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    return result_json(app.reports.run(report_id, context(request, user), params_of(request)))


@router.get("/reports/{report_id}/export")
def export_report(report_id: str, request: Request) -> Response:
    user = current_user(request)
    app = tessera(request)
    fmt = request.query_params.get("format", "xlsx")
    name, media, data = app.reports.export(report_id, context(request, user), params_of(request), fmt)
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/dashboards/{dashboard_id}")
def dashboard(dashboard_id: str, request: Request) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    ctx = context(request, user)
    doc = app.reports.dashboards().get(dashboard_id)
    if doc is None:
        raise NotFound(f"no dashboard '{dashboard_id}'")
    items = []
    for item in doc["items"]:
        try:
            if item.get("kind", "report") != "report":  # combined, schedule, reminders, quick_create
                items.append({**item, "result": dashboard_item_json(app, ctx, item, params_of(request))})
                continue
            result = app.reports.run(item["report"], ctx, params_of(request))
            if item.get("limit"):  # a top-N ranking
                from runtime.reports.items import top_rows

                result = top_rows(result, item.get("measure"), item["limit"])
            items.append({**item, "result": result_json(result)})
        except Forbidden as exc:
            items.append({**item, "error": str(exc)})
    return {"id": dashboard_id, "items": items}


def dashboard_item_json(app: Any, ctx: Any, item: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """The data of a non-report dashboard item (runtime/reports/items.py); reminders are the UI's."""
    from runtime.reports import items as dash

    kind = item["kind"]
    if kind == "combined":
        c = dash.run_combined(app, ctx, item, params)
        return {
            "title": c.title,
            "dimension": c.dimension,
            "columns": [{"key": col.key, "label": col.label, "measure": col.measure} for col in c.columns],
            "rows": [{k: r[k] for k in ("key", "label", "values", "text")} for r in c.rows],
            "total": c.total,
            "from": c.window.start.isoformat(),
            "to": c.window.end.isoformat(),
        }
    if kind == "schedule":
        rows = dash.schedule_records(app, ctx, item)
        return {"records": [{k: v for k, v in r.items() if k != "record"} for r in rows]}
    if kind == "quick_create":
        return {"buttons": dash.quick_create(app, ctx, item)}
    return {}


@router.get("/reports/{report_id}/subscriptions")
def list_subscriptions(report_id: str, request: Request) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    app.reports.subscriptions.require_manage(context(request, user), report_id)
    rows = app.reports.subscriptions.list(report_id)
    return {"items": [{k: _json(v) for k, v in r.items()} for r in rows]}


@router.post("/reports/{report_id}/subscriptions", status_code=201)
async def create_subscription(report_id: str, request: Request) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    ctx = context(request, user)
    app.reports.subscriptions.require_manage(ctx, report_id)
    try:
        body = await request.json()
    except ValueError as exc:
        raise BadRequest("send a JSON object") from exc
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object")
    sub_id = app.reports.subscriptions.create(
        report_id,
        frequency=str(body.get("frequency", "")),
        user_ids=_ints(body.get("user_ids")),
        roles=[str(r) for r in body.get("roles") or []],
        channels=[str(c) for c in body.get("channels") or ["email"]],
        params={str(k): str(v) for k, v in (body.get("params") or {}).items()},
        fmt=str(body.get("format", "xlsx")),
        created_by=user.id,
    )
    return {"id": sub_id}


def _ints(value: Any) -> list[int]:
    if value is None:
        return []
    try:
        ids = [int(v) for v in value]
    except (TypeError, ValueError) as exc:
        raise BadRequest("user_ids must be a list of user ids") from exc
    if any(not 0 < i <= MAX_ID for i in ids):
        raise BadRequest("user_ids must be a list of user ids")
    return ids


@router.delete("/reports/subscriptions/{sub_id}", status_code=204)
def delete_subscription(sub_id: str, request: Request) -> Response:
    user = current_user(request)
    app = tessera(request)
    sid = record_id(sub_id)
    report_id = app.reports.subscriptions.report_of(sid)
    if report_id is None:
        raise NotFound(f"no subscription {sid}")
    app.reports.subscriptions.require_manage(context(request, user), report_id)
    app.reports.subscriptions.delete(sid)
    return Response(status_code=204)
