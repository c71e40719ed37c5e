"""Record action buttons and pages (PL-08): the state machine's transitions on a record page.

* ``GET  /r/{entity}/{id}/actions`` the buttons (an htmx fragment the record page's header loads)
* ``GET  /r/{entity}/{id}/actions/{action}`` the action's page: its input form (the entity form's widgets)
  and/or the confirmation
* ``POST /r/{entity}/{id}/actions/{action}`` performs it through runtime.automation.states.perform and
  returns to the record with a message; input errors re-render the form next to the fields
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.api.deps import optional_user
from runtime.api.deps import record_id as parse_record_id
from runtime.automation.states.background import QUEUED_KEY
from runtime.automation.states.service import (
    available,
    keeps_state,
    machine_for,
    perform,
    refusal,
    state_label,
    transition,
)
from runtime.blueprints.model import label_text
from runtime.errors import Conflict, Forbidden, RecordInvalid
from runtime.records.titles import record_title
from runtime.validation.errors import FieldError
from ui.forms import friendly_errors
from ui.routes import rules_admin
from ui.routes.tasks_common import Page, page
from ui.routes.tasks_forms import blueprint_form, build, initial_values, read_submission
from ui.session import flash
from ui.templating import Crumb, render, render_fragment

router = APIRouter()
router.include_router(rules_admin.router)  # /admin/rules


@router.get("/r/{entity_id}/{rid}/actions")
def action_buttons(entity_id: str, rid: str, request: Request) -> Response:
    user = optional_user(request)
    if user is None:
        return HTMLResponse("")
    p = page(request)
    record = p.app.records.get(entity_id, parse_record_id(rid), p.ctx)
    machine = machine_for(p.app, entity_id)
    actions = available(p.app, entity_id, record, p.ctx)
    state = state_label(machine, record.get(machine["field"]), p.lang) if machine else None
    html = render_fragment(
        request,
        "automation/actions_buttons.html",
        user,
        entity_id=entity_id,
        record=record,
        actions=actions,
        state=state,
    )
    return HTMLResponse(html)


def _action_page(
    p: Page,
    entity_id: str,
    record: dict[str, Any],
    t: dict[str, Any],
    machine: dict[str, Any],
    values: dict[str, Any],
    data: dict[str, Any],
    errors: list[FieldError],
    status: int = 200,
) -> HTMLResponse:
    form = blueprint_form(p, t.get("form"))
    model = build(p, form, values, data, errors) if form else None
    action = label_text(t["label"], p.lang)
    entity = p.app.registry.entity(entity_id)
    title = record_title(p.app, entity, record, p.ctx)
    record_url = f"/r/{entity_id}/{record['id']}"
    heading = p.t("actions.input_title", action=action, record=title)
    return render(
        p.request,
        "automation/actions_form.html",
        p.user,
        status=status,
        active_entity=entity_id,
        crumbs=[Crumb(p.t("nav.home"), "/"), Crumb(entity.label_in(p.lang)), Crumb(title, record_url), Crumb(action)],
        page_title=heading,
        heading=heading,
        entity=entity,
        record=record,
        model=model,
        action_label=action,
        transition=t,
        keeps_state=keeps_state(t),
        from_state=state_label(machine, record.get(machine["field"]), p.lang),
        to_state=state_label(machine, record.get(machine["field"]) if keeps_state(t) else t["to"], p.lang),
        record_title=title,
        record_url=record_url,
        post_url=f"{record_url}/actions/{t['id']}",
        errors=[] if model else errors,
    )


@router.get("/r/{entity_id}/{rid}/actions/{action_id}")
def action_page(entity_id: str, rid: str, action_id: str, request: Request) -> Response:
    p = page(request)
    record = p.app.records.get(entity_id, parse_record_id(rid), p.ctx)
    machine = machine_for(p.app, entity_id)
    if machine is None:
        return RedirectResponse(f"/r/{entity_id}/{record['id']}", status_code=303)
    t = transition(machine, action_id)
    why = refusal(p.app, machine, t, record, p.ctx)
    if why is not None:
        flash(request, "danger", p.t("actions.refused", action=label_text(t["label"], p.lang), reason=why[1]))
        return RedirectResponse(f"/r/{entity_id}/{record['id']}", status_code=303)
    form = blueprint_form(p, t.get("form"))
    values, data = initial_values(p, form, record) if form else ({}, {})
    return _action_page(p, entity_id, record, t, machine, values, data, [])


@router.post("/r/{entity_id}/{rid}/actions/{action_id}")
async def action_submit(entity_id: str, rid: str, action_id: str, request: Request) -> Response:
    p = page(request)
    ident = parse_record_id(rid)
    record = p.app.records.get(entity_id, ident, p.ctx)
    machine = machine_for(p.app, entity_id)
    if machine is None:
        return RedirectResponse(f"/r/{entity_id}/{ident}", status_code=303)
    t = transition(machine, action_id)
    label = label_text(t["label"], p.lang)
    post = await request.form()
    form = blueprint_form(p, t.get("form"))
    payload: dict[str, Any] = {}
    if form is not None:
        parsed, payload = read_submission(p, form, post)
        if parsed.errors:
            return _action_page(p, entity_id, record, t, machine, parsed.raw, parsed.data, parsed.errors, 422)
    version = post.get("version")
    expected = int(version) if isinstance(version, str) and version.isdigit() else None
    try:
        updated = perform(p.app, entity_id, ident, action_id, payload, p.ctx, expected_version=expected)
    except RecordInvalid as exc:
        errors = friendly_errors(exc.errors, payload, p.lang)
        if form is not None:
            parsed, _ = read_submission(p, form, post)
            return _action_page(p, entity_id, record, t, machine, parsed.raw, parsed.data, errors, 422)
        flash(request, "danger", p.t("actions.refused", action=label, reason=str(exc)))
        return RedirectResponse(f"/r/{entity_id}/{ident}", status_code=303)
    except (Conflict, Forbidden) as exc:
        flash(request, "danger", p.t("actions.refused", action=label, reason=str(exc)))
        return RedirectResponse(f"/r/{entity_id}/{ident}", status_code=303)
    if QUEUED_KEY in updated:
        flash(request, "info", p.t("actions.queued", action=label))
        return RedirectResponse(f"/r/{entity_id}/{ident}", status_code=303)
    if keeps_state(t):
        flash(request, "success", p.t("actions.done_plain", action=label))
        return RedirectResponse(f"/r/{entity_id}/{ident}", status_code=303)
    state = state_label(machine, updated.get(machine["field"]), p.lang)
    flash(request, "success", p.t("actions.done", action=label, state=state))
    return RedirectResponse(f"/r/{entity_id}/{ident}", status_code=303)
