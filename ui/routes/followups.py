"""Work items and follow-up plans in the web UI.

* ``/work-items/{id}``: one work item with its blueprint form (the record form's widgets, through
  ui.routes.tasks_forms); posting completes it, the answers becoming a record of the form's entity.
* ``/r/{entity}/{id}/followups``: the record page's 随访计划 card body (loaded by
  ui/templates/automation/followups_slot.html): each plan instance as a timeline with its adjust actions.
* ``POST /followups/{instance_id}/adjust``: move, reassign, skip, add a step, stop (back to the record page).
* ``work_item_rows``: the inbox rows of the user's work items, called by the /tasks inbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.api.deps import record_id as parse_record_id
from runtime.automation.followups.plans import CHANNELS, text
from runtime.automation.followups.views import timeline
from runtime.clock import local_zone
from runtime.errors import BadRequest, Conflict, Forbidden, NotFound, RecordInvalid
from runtime.validation.errors import FieldError
from ui.directory import user_choices
from ui.i18n import MESSAGES
from ui.routes import tasks_forms
from ui.routes.tasks_common import DUE_SOON, Page, RecordTitles, local_time, names, page
from ui.session import flash
from ui.templating import Crumb, render, render_fragment

router = APIRouter()


# inbox ------------------------------------------------------------------------------------------------
def due_mark(item: dict[str, Any], now: datetime) -> str | None:
    """'overdue' (past its SLA), 'soon' (due within a day or already due) or None, for open items."""
    if item["status"] == "overdue":
        return "overdue"
    if item["status"] != "open" or item.get("due_at") is None:
        return None
    return "soon" if item["due_at"] - now <= DUE_SOON else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def work_item_rows(p: Page, *, status: str = "open") -> list[dict[str, Any]]:
    """The user's work items shaped like the inbox's task rows (status: open, overdue or done)."""
    items = p.app.work_items
    found = items.done_by(p.user.id) if status == "done" else items.for_user(p.user.id)
    if status == "overdue":
        found = [i for i in found if i["status"] == "overdue"]
    now = p.app.clock.now()
    titles = RecordTitles(p.app, p.ctx)
    people = names(p.app, [i.get("assignee_id") for i in found])
    rows = []
    for item in found:
        rows.append(
            {
                "id": f"wi{item['id']}",
                "element_id": f"work_item_{item.get('channel') or 'task'}",
                "name": item["title"],
                "label": item_label(p, item),
                "process_label": p.t(f"wi.kind.{item['source']}") if item["source"] in SOURCES else p.t("wi.kind"),
                "record": titles.link(item.get("entity"), item.get("record_id")),
                "assignee": people.get(item.get("assignee_id") or 0),
                "role_text": "",
                "mine": item.get("assignee_id") == p.user.id,
                "claimable": False,
                "pool": False,
                "assignee_id": item.get("assignee_id"),
                "status": item["status"],
                "due_at": _iso(item.get("due_at")),
                "created_at": _iso(item.get("created_at")),
                "completed_at": _iso(item.get("completed_at")),
                "completed_by": item.get("completed_by"),
                "due_text": local_time(_iso(item.get("due_at"))),
                "created_text": local_time(_iso(item.get("created_at"))),
                "completed_text": local_time(_iso(item.get("completed_at"))),
                "due_mark": due_mark(item, now),
                "href": f"/work-items/{item['id']}",
                "work_item": True,
            }
        )
    return rows


SOURCES = ("followup", "rule", "pool")


def item_label(p: Page, item: dict[str, Any]) -> str:
    """A follow-up step's label in the user's language, else the stored title."""
    label = (item.get("detail") or {}).get("label")
    return text(label, p.lang) if label else item["title"]


def work_item_count(app: Any, user_id: int) -> tuple[int, bool]:
    """(open work items, any overdue) of the user, for the sidebar badge of the inbox."""
    return app.work_items.open_count(user_id)


# the work item page ------------------------------------------------------------------------------------
def _item_page(
    p: Page,
    item: dict[str, Any],
    *,
    values: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    is_open = item["status"] in ("open", "overdue")
    form = tasks_forms.blueprint_form(p, item.get("form"))
    model = None
    if form is not None and is_open:
        if values is None:
            values, data = tasks_forms.initial_values(p, form, {})
        model = tasks_forms.build(p, form, values, data or {}, errors or [])
    people = names(p.app, [item.get("assignee_id"), item.get("completed_by")])
    title = item_label(p, item)
    detail = item.get("detail") or {}
    plan = p.app.followups.plans().get(detail.get("plan") or "")
    result = None
    if item.get("result_entity") and item.get("result_id"):
        result = RecordTitles(p.app, p.ctx).link(item["result_entity"], item["result_id"])
    return render(
        p.request,
        "automation/followup_work_item.html",
        p.user,
        status=status,
        crumbs=[Crumb(p.t("nav.home"), "/"), Crumb(p.t("tasks.title"), "/tasks"), Crumb(title)],
        page_title="wi.title",
        item=item,
        title=title,
        plan_label=text(plan.label, p.lang) if plan is not None else "",
        kind_label=p.t(f"wi.kind.{item['source']}") if item["source"] in SOURCES else p.t("wi.kind"),
        channel_label=p.t(f"wi.channel.{item['channel']}") if item.get("channel") in CHANNELS else "",
        record=RecordTitles(p.app, p.ctx).link(item.get("entity"), item.get("record_id")),
        result=result,
        people=people,
        is_open=is_open,
        may_complete=is_open and (item.get("assignee_id") == p.user.id or p.ctx.is_admin),
        model=model,
        problem=problem,
        due_text=local_time(_iso(item.get("due_at"))),
        sla_text=local_time(_iso(item.get("sla_due_at"))),
        due_mark=due_mark(item, p.app.clock.now()),
        completed_text=local_time(_iso(item.get("completed_at"))),
    )


@router.get("/work-items/{item_id}")
def work_item_page(item_id: str, request: Request) -> Response:
    p = page(request)
    item = p.app.work_items.visible(parse_record_id(item_id), p.ctx)
    return _item_page(p, item)


@router.post("/work-items/{item_id}")
async def complete_work_item(item_id: str, request: Request) -> Response:
    p = page(request)
    ident = parse_record_id(item_id)
    item = p.app.work_items.visible(ident, p.ctx)
    post = await request.form()
    form = tasks_forms.blueprint_form(p, item.get("form"))
    payload: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    errors: list[FieldError] = []
    if form is not None:
        parsed, payload = tasks_forms.read_submission(p, form, post)
        raw = {**tasks_forms.initial_values(p, form, {})[0], **parsed.raw}
        errors = list(parsed.errors)
        if errors:
            bad = {e.field.split(".")[0] for e in errors}
            readable = {k: v for k, v in payload.items() if k not in bad}
            errors += [e for e in tasks_forms.check(p, form, readable) if e.field.split(".")[0] not in bad]
    if not errors:
        try:
            p.app.work_items.complete(ident, payload, p.ctx)
        except RecordInvalid as exc:
            errors = list(exc.errors)
        except (Forbidden, Conflict, BadRequest) as exc:
            return _item_page(p, item, values=raw or None, data=payload, problem=exc.message, status=409)
        else:
            flash(request, "success", p.t("wi.completed", title=item_label(p, item)))
            return RedirectResponse("/tasks", status_code=303)
    return _item_page(p, item, values=raw or None, data=payload, errors=errors, status=422)


# the record page's timeline ----------------------------------------------------------------------------
def _may_adjust(p: Page, entity_id: str) -> bool:
    return p.app.work_items.may_manage(p.ctx) or p.app.permissions.can(p.ctx, entity_id, "update")


def _local_input(iso: str) -> str:
    """UTC ISO text -> the value of a datetime-local input in the hospital's time zone."""
    return local_time(iso).replace(" ", "T")


@router.get("/r/{entity_id}/{rid}/followups")
def record_followups(entity_id: str, rid: str, request: Request) -> Response:
    p = page(request)
    if entity_id not in p.app.registry.entities:
        raise NotFound(f"no entity '{entity_id[:40]}'")
    ident = parse_record_id(rid)
    p.app.records.get(entity_id, ident, p.ctx)  # 404 for a record this user may not see
    plans = timeline(p.app, entity_id, ident, p.lang)
    ids = [s.get("assignee_id") for pl in plans for s in pl["steps"]]
    ids += [a.get("user_id") for pl in plans for s in pl["steps"] for a in s["alerts"]]
    ids += [h.get("by") for pl in plans for h in pl["history"]]
    people = names(p.app, ids)
    for pl in plans:
        pl["anchor_text"] = local_time(pl["anchor_at"])
        for s in pl["steps"]:
            s["due_text"] = local_time(s["due_at"])
            s["due_input"] = _local_input(s["due_at"])
            s["assignee"] = people.get(s.get("assignee_id") or 0, "")
            s["channel_label"] = p.t(f"wi.channel.{s['channel']}")
            for a in s["alerts"]:
                a["who"] = people.get(a.get("user_id") or 0, "—")
        step_labels = {s["step_id"]: s["label"] for s in pl["steps"]}
        for h in pl["history"]:
            h["step_text"] = step_labels.get(h.get("step") or "", h.get("label") or "")
            h["who"] = people.get(h.get("by") or 0) or p.t("fu.system")
            h["at_text"] = local_time(h.get("at"))
            key = f"fu.history.{h.get('action')}"
            h["action_text"] = p.t(key) if key in MESSAGES else str(h.get("action"))
    adjustable = _may_adjust(p, entity_id)
    html = render_fragment(
        request,
        "automation/followup_timeline.html",
        p.user,
        plans=plans,
        adjustable=adjustable,
        users=user_choices(p.app) if adjustable else [],
        channels=sorted(CHANNELS),
        entity_id=entity_id,
        record_id=ident,
    )
    return HTMLResponse(html)


def utc_from_local(value: str) -> str:
    """A datetime-local input (hospital time) as UTC ISO text for the adjust service; '' stays ''."""
    value = value.strip()
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # the service names the bad parameter
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local_zone())
    return parsed.isoformat()


@router.post("/followups/{instance_id}/adjust")
async def adjust_plan(instance_id: str, request: Request) -> Response:
    p = page(request)
    ident = parse_record_id(instance_id)
    post = await request.form()
    params = {k: str(v) for k, v in post.items() if k not in ("csrf_token", "action", "back") and isinstance(v, str)}
    if "due_at" in params:
        params["due_at"] = utc_from_local(params["due_at"])
    back = str(post.get("back") or "")
    back = back if back.startswith("/r/") and "//" not in back and len(back) < 300 else "/"
    try:
        p.app.followups.adjust.apply(ident, str(post.get("action") or ""), params, p.ctx)
    except (BadRequest, Conflict, Forbidden, NotFound) as exc:
        flash(request, "warning", p.t("fu.adjust_failed", reason=exc.message))
    else:
        flash(request, "success", p.t("fu.adjusted"))
    return RedirectResponse(f"{back}#record-followups", status_code=303)
