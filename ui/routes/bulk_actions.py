"""Bulk record actions from a list page: the records ticked in the list, one action, its input asked once.

* ``GET  /bulk/{entity}/{action}?ids=1&ids=2&back=/v/x`` the action's input form (or confirmation) for the
  selected records
* ``POST /bulk/{entity}/{action}`` runs it through runtime.automation.states.bulk (each record with its own
  state check, guard, permissions and transaction) and shows per record: done, or refused with the reason
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.automation.states.bulk import BulkOutcome, bulk_allowed, bulk_ids, perform_bulk
from runtime.automation.states.service import machine_for, transition
from runtime.blueprints.model import label_text
from runtime.errors import BadRequest, RecordInvalid
from runtime.validation.errors import FieldError
from ui.forms import friendly_errors
from ui.routes.tasks_common import Page, page
from ui.routes.tasks_forms import blueprint_form, build, initial_values, read_submission
from ui.session import flash
from ui.templating import Crumb, render

router = APIRouter()


def _back(raw: Any, entity_id: str) -> str:
    """Where to return: a local list page only (never an outside address)."""
    if isinstance(raw, str) and raw.startswith("/") and not raw.startswith("//"):
        return raw
    return f"/r/{entity_id}"


def _allowed(p: Page, entity_id: str, action_id: str) -> dict[str, Any]:
    machine = machine_for(p.app, entity_id)
    t = transition(machine, action_id) if machine else None
    if t is None or t["id"] not in {a["id"] for a in bulk_allowed(p.app, entity_id, p.ctx)}:
        raise BadRequest(p.t("bulk.not_allowed"))
    return t


def _titles(p: Page, entity_id: str, ids: list[int]) -> list[dict[str, Any]]:
    titles = p.app.records.titles(entity_id, ids, p.ctx)
    return [{"id": i, "title": titles.get(i) or f"#{i}", "href": f"/r/{entity_id}/{i}"} for i in ids]


def _page(
    p: Page,
    entity_id: str,
    t: dict[str, Any],
    ids: list[int],
    back: str,
    values: dict[str, Any],
    data: dict[str, Any],
    errors: list[FieldError],
    status: int = 200,
) -> HTMLResponse:
    entity = p.app.registry.entity(entity_id)
    form = blueprint_form(p, t.get("form"))
    action = label_text(t["label"], p.lang)
    heading = p.t("bulk.title", action=action, count=len(ids))
    return render(
        p.request,
        "automation/bulk_form.html",
        p.user,
        status=status,
        active_entity=entity_id,
        crumbs=[Crumb(p.t("nav.home"), "/"), Crumb(entity.label_in(p.lang), back), Crumb(action)],
        page_title=heading,
        heading=heading,
        entity=entity,
        model=build(p, form, values, data, errors) if form else None,
        transition=t,
        action_label=action,
        records=_titles(p, entity_id, ids),
        back=back,
        post_url=f"/bulk/{entity_id}/{t['id']}",
        errors=[] if form else errors,
    )


@router.get("/bulk/{entity_id}/{action_id}")
def bulk_page(entity_id: str, action_id: str, request: Request) -> Response:
    p = page(request)
    back = _back(request.query_params.get("back"), entity_id)
    raw = request.query_params.getlist("ids")
    if not raw:
        flash(request, "warning", p.t("bulk.none_selected"))
        return RedirectResponse(back, status_code=303)
    t = _allowed(p, entity_id, action_id)
    ids = bulk_ids(raw)
    form = blueprint_form(p, t.get("form"))
    values, data = initial_values(p, form, {}) if form else ({}, {})
    return _page(p, entity_id, t, ids, back, values, data, [])


@router.post("/bulk/{entity_id}/{action_id}")
async def bulk_submit(entity_id: str, action_id: str, request: Request) -> Response:
    p = page(request)
    post = await request.form()
    back = _back(post.get("back"), entity_id)
    t = _allowed(p, entity_id, action_id)
    ids = bulk_ids(post.getlist("ids"))
    form = blueprint_form(p, t.get("form"))
    payload: dict[str, Any] = {}
    if form is not None:
        parsed, payload = read_submission(p, form, post)
        if parsed.errors:
            return _page(p, entity_id, t, ids, back, parsed.raw, parsed.data, parsed.errors, 422)
    try:
        outcomes = perform_bulk(p.app, entity_id, ids, action_id, payload, p.ctx)
    except RecordInvalid as exc:
        errors = friendly_errors(exc.errors, payload, p.lang)
        parsed_raw, parsed_data = (read_submission(p, form, post)[0].raw, payload) if form else ({}, {})
        return _page(p, entity_id, t, ids, back, parsed_raw, parsed_data, errors, 422)
    return _result(p, entity_id, t, outcomes, back)


def _result(p: Page, entity_id: str, t: dict[str, Any], outcomes: list[BulkOutcome], back: str) -> HTMLResponse:
    entity = p.app.registry.entity(entity_id)
    action = label_text(t["label"], p.lang)
    titles = {r["id"]: r for r in _titles(p, entity_id, [o.id for o in outcomes])}
    done = sum(1 for o in outcomes if o.status in ("done", "queued"))
    heading = p.t("bulk.result_title", action=action)
    return render(
        p.request,
        "automation/bulk_result.html",
        p.user,
        active_entity=entity_id,
        crumbs=[Crumb(p.t("nav.home"), "/"), Crumb(entity.label_in(p.lang), back), Crumb(action)],
        page_title=heading,
        heading=heading,
        summary=p.t("bulk.result_summary", done=done, refused=len(outcomes) - done),
        rows=[{**titles[o.id], "status": o.status, "reason": o.reason} for o in outcomes],
        back=back,
    )
