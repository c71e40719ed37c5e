"""Processes and their instances: the process list and start page (发起流程), an instance's page with its
history and bpmn-js diagram, and the "流程" card of a record page (loaded lazily by htmx).

A process says which records it is started from and which form asks for its start data with the
properties ``entity`` and ``form`` of its start event (``spiffworkflow:properties``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.api.deps import record_id as parse_record_id
from runtime.errors import BadRequest, Conflict, Forbidden, NotFound, RecordInvalid
from runtime.validation.errors import FieldError
from runtime.workflows import views
from ui.routes import tasks_forms
from ui.routes.tasks_common import (
    Page,
    RecordTitles,
    local_time,
    localise_bpmn,
    names,
    page,
    process,
    processes,
    status_label,
)
from ui.routes.tasks_history import current_steps, history_items
from ui.session import flash
from ui.templating import Crumb, render, render_fragment

router = APIRouter()


def _crumbs(p: Page, *tail: Crumb) -> list[Crumb]:
    return [Crumb(p.t("nav.home"), "/"), Crumb(p.t("tasks.title"), "/tasks"), *tail]


@router.get("/workflows")
def process_list(request: Request) -> Response:
    p = page(request)
    return render(
        request,
        "workflows/processes.html",
        p.user,
        crumbs=_crumbs(p, Crumb(p.t("wf.start.title"))),
        page_title="wf.start.title",
        processes=[proc for proc in processes(p.app, p.lang, p.ctx) if proc["may_start"]],
    )


def _record_arg(p: Page, request: Request, proc: dict[str, Any]) -> tuple[str, int] | None:
    """?entity=&record= of the record the process is started from (it must be one the process declares)."""
    entity, raw = request.query_params.get("entity"), request.query_params.get("record")
    if not entity or not raw:
        return None
    if proc.get("entity") and entity != proc["entity"]:
        raise NotFound(f"the process '{proc['id']}' is not started from '{entity[:40]}' records")
    return entity, parse_record_id(raw)


def _start_page(
    p: Page,
    proc: dict[str, Any],
    record: tuple[str, int] | None,
    *,
    values: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    form = tasks_forms.blueprint_form(p, proc.get("form"))
    model = None
    if form is not None:
        if values is None:
            values, data = tasks_forms.initial_values(p, form, {})
        model = tasks_forms.build(p, form, values, data or {}, errors or [])
    query = f"?entity={record[0]}&record={record[1]}" if record else ""
    return render(
        p.request,
        "workflows/start.html",
        p.user,
        status=status,
        crumbs=_crumbs(p, Crumb(p.t("wf.start.title"), "/workflows"), Crumb(proc["label"])),
        page_title="wf.start.title",
        proc=proc,
        model=model,
        record=RecordTitles(p.app, p.ctx).link(*record) if record else None,
        action=f"/workflows/start/{proc['id']}{query}",
        problem=problem,
    )


def _startable(p: Page, process_id: str) -> dict[str, Any]:
    """The process, if this user may start it (403 otherwise: the host refuses the start as well)."""
    proc = process(p.app, p.lang, process_id, p.ctx)
    if not proc["may_start"]:
        raise Forbidden(p.t("wf.start.forbidden", process=proc["label"]))
    return proc


@router.get("/workflows/start/{process_id}")
def start_page(process_id: str, request: Request) -> Response:
    p = page(request)
    proc = _startable(p, process_id)
    record = _record_arg(p, request, proc)
    if record:
        p.app.records.get(record[0], record[1], p.ctx)  # 404/403 before showing a form for it
    return _start_page(p, proc, record)


@router.post("/workflows/start/{process_id}")
async def start_process(process_id: str, request: Request) -> Response:
    p = page(request)
    proc = _startable(p, process_id)
    record = _record_arg(p, request, proc)
    form = tasks_forms.blueprint_form(p, proc.get("form"))
    payload: dict[str, Any] = {}
    raw: dict[str, Any] | None = None
    errors: list[FieldError] = []
    if form is not None:
        parsed, payload = tasks_forms.read_submission(p, form, await request.form())
        raw = {**tasks_forms.initial_values(p, form, {})[0], **parsed.raw}
        bad = {e.field.split(".")[0] for e in parsed.errors}
        readable = {k: v for k, v in payload.items() if k not in bad}
        errors = list(parsed.errors) + [
            e for e in tasks_forms.check(p, form, readable) if e.field.split(".")[0] not in bad
        ]
    if not errors:
        try:
            started = p.host.start(process_id, payload, p.ctx, record=record)
        except RecordInvalid as exc:
            errors = list(exc.errors)
        except (BadRequest, Forbidden, Conflict) as exc:
            return _start_page(p, proc, record, values=raw, data=payload, problem=exc.message, status=422)
        else:
            flash(request, "success", p.t("wf.start.started", process=proc["label"]))
            return RedirectResponse(f"/workflows/instances/{started['id']}", status_code=303)
    return _start_page(p, proc, record, values=raw, data=payload, errors=errors, status=422)


@router.get("/workflows/instances/{instance_id}")
def instance_page(instance_id: str, request: Request) -> Response:
    p = page(request)
    ident = parse_record_id(instance_id)
    instance = p.host.instance(ident, p.ctx)
    diagram = views.diagram(p.host, ident, p.ctx)
    diagram["bpmn"] = localise_bpmn(diagram["bpmn"], instance["process_id"], p.lang)
    proc_labels = {row["id"]: row["label"] for row in processes(p.app, p.lang)}
    label = proc_labels.get(instance["process_id"], instance["process_id"])
    people = names(p.app, [instance.get("started_by")])
    link = instance.get("record") or {}
    return render(
        request,
        "workflows/instance.html",
        p.user,
        crumbs=_crumbs(p, Crumb(label)),
        page_title="wf.instance.title",
        instance=instance,
        label=label,
        status_text=status_label(p.lang, instance["status"]),
        record=RecordTitles(p.app, p.ctx).link(link.get("entity"), link.get("id")),
        starter=people.get(instance.get("started_by") or 0, ""),
        started_text=local_time(instance.get("created_at")),
        current=current_steps(p, instance),
        history=history_items(p, instance),
        diagram=diagram,
        may_withdraw=instance["status"] in ("running", "waiting")
        and (p.ctx.is_admin or instance.get("started_by") == p.user.id),
    )


@router.post("/workflows/instances/{instance_id}/withdraw")
def withdraw(instance_id: str, request: Request) -> Response:
    p = page(request)
    ident = parse_record_id(instance_id)
    try:
        p.host.withdraw(ident, p.ctx)
    except (Forbidden, Conflict) as exc:
        flash(request, "warning", p.t("wf.withdraw_failed", reason=exc.message))
    else:
        flash(request, "success", p.t("wf.withdrawn"))
    return RedirectResponse(f"/workflows/instances/{ident}", status_code=303)


@router.get("/r/{entity_id}/{rid}/workflows")
def record_workflows(entity_id: str, rid: str, request: Request) -> Response:
    """The "流程" card body of a record page: its instances and the processes it may start."""
    p = page(request)
    if not rid.isascii():
        raise NotFound(f"no record with id '{rid[:40]}'")
    ident = parse_record_id(rid)
    items = views.instances_for_record(p.host, entity_id, ident, p.ctx)
    all_procs = processes(p.app, p.lang, p.ctx)
    labels = {row["id"]: row["label"] for row in all_procs}
    people = names(p.app, [i.get("started_by") for i in items])
    rows = [
        {
            **i,
            "label": labels.get(i["process_id"], i["process_id"]),
            "status_text": status_label(p.lang, i["status"]),
            "starter": people.get(i.get("started_by") or 0, ""),
            "started_text": local_time(i.get("created_at")),
            "steps": current_steps(p, i),
        }
        for i in items
    ]
    startable = [proc for proc in all_procs if proc.get("entity") == entity_id and proc["may_start"]]
    html = render_fragment(
        request,
        "workflows/record_card.html",
        p.user,
        rows=rows,
        startable=startable,
        entity_id=entity_id,
        record_id=ident,
    )
    return HTMLResponse(html)
