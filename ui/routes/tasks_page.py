"""One task (/tasks/{id}): its blueprint form, the outcome buttons, the context panel and the hand-over
actions (claim, delegate, reassign).

Completing goes through the host (``WorkflowHost.complete``), which validates the form data with the
records rules: its per-field errors come back next to the fields with the typed values kept. A form
field named ``comment`` doubles as the outcome comment (the host keeps the outcome comment apart, under
``_outcome_comment``, so the field's own value is never overwritten). A rejection needs a comment: the
host's field error on ``comment`` shows under the comment box (or the form's comment field).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.api.deps import record_id as parse_record_id
from runtime.errors import BadRequest, Conflict, Forbidden, NotFound, RecordInvalid
from runtime.validation.errors import FieldError
from runtime.workflows import store, views
from runtime.workflows.assignment import properties
from ui.directory import user_choices
from ui.i18n import MESSAGES
from ui.routes import tasks_forms
from ui.routes.tasks_common import (
    Page,
    RecordTitles,
    due_mark,
    local_time,
    may_reassign,
    names,
    outcome_label,
    page,
    process_label,
    processes,
    role_label,
    task_label,
)
from ui.routes.tasks_history import history_items
from ui.session import flash
from ui.templating import Crumb, render

router = APIRouter()
COMMENT = "comment"
MAX_COMMENT = 4000
MAX_FACTS = 12
HIDDEN_DATA = frozenset({"requester", "outcome", "comment", "signoff_outcome", "signoff_results", "signers"})
OUTCOME_COMMENT = "_outcome_comment"


def _outcomes(p: Page, task: dict[str, Any]) -> list[str]:
    """The task's outcomes from its BPMN properties (e.g. approve,reject); empty: one plain "done" button."""
    with p.app.db.read() as conn:
        row = p.host.specs.by_id(conn, store.load_instance(conn, task["instance_id"])["spec_id"])
    spec = p.host.specs.parsed(row).spec
    task_spec = next((s for s in spec.task_specs.values() if getattr(s, "bpmn_id", None) == task["element_id"]), None)
    raw = properties(task_spec).get("outcomes", "") if task_spec is not None else ""
    return [o.strip() for o in raw.split(",") if o.strip()]


def _facts(p: Page, task: dict[str, Any], shown: frozenset[str]) -> list[tuple[str, str]]:
    """The request the task is about (the process variables: title, amount...), as label/value lines."""
    out = []
    for key, value in (task.get("data") or {}).items():
        if key in shown or key in HIDDEN_DATA or key.startswith("_") or value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            continue
        text = "、".join(map(str, value)) if isinstance(value, list) else str(value)
        label = p.t(f"wf.data.{key}") if f"wf.data.{key}" in MESSAGES else key
        out.append((label, text[:200]))
    return out[:MAX_FACTS]


def _task_page(
    p: Page,
    task: dict[str, Any],
    *,
    values: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
    comment: str = "",
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    instance = p.host.instance(task["instance_id"], p.ctx, check=False)
    pid = instance["process_id"]
    labels = {row["id"]: row["label"] for row in processes(p.app, p.lang)}
    is_open = task["status"] in ("ready", "claimed")
    form = tasks_forms.blueprint_form(p, task.get("form_id"))
    model = None
    errors = errors or []
    if form is not None and is_open:
        if values is None:
            values, data = tasks_forms.initial_values(p, form, _seeded(p, form.entity, task))
        model = tasks_forms.build(p, form, values, data or {}, errors)
    people = names(p.app, [task.get("assignee_id"), instance.get("started_by"), task.get("completed_by")])
    title = task_label(p.lang, pid, task["element_id"], task.get("name"))
    outcome_errors = [e.message for e in errors if e.field in ("outcome", "")]
    has_comment_field = model is not None and COMMENT in model.field_names
    comment_errors = [] if has_comment_field else [e.message for e in errors if e.field in (COMMENT, "_comment")]
    return render(
        p.request,
        "tasks/task.html",
        p.user,
        status=status,
        crumbs=[Crumb(p.t("nav.home"), "/"), Crumb(p.t("tasks.title"), "/tasks"), Crumb(title)],
        page_title="tasks.task_title",
        task=task,
        title=title,
        process_label=labels.get(pid) or process_label(p.lang, pid),
        instance=instance,
        record=RecordTitles(p.app, p.ctx).link(
            (instance.get("record") or {}).get("entity"), (instance.get("record") or {}).get("id")
        ),
        people=people,
        is_open=is_open,
        is_mine=task.get("assignee_id") == p.user.id,
        claimable=is_open and task.get("pool") and task.get("assignee_id") is None,
        may_complete=is_open and (task.get("assignee_id") == p.user.id or p.ctx.is_admin),
        may_reassign=is_open and may_reassign(p),
        model=model,
        has_comment_field=has_comment_field,
        comment_errors=comment_errors,
        comment=comment,
        outcomes=[(o, outcome_label(p.lang, o)) for o in (_outcomes(p, task) if is_open else [])],
        outcome_errors=outcome_errors,
        problem=problem,
        due_text=local_time(task.get("due_at")),
        due_mark=due_mark(task, p.app.clock.now()),
        started_text=local_time(instance.get("created_at")),
        completed_text=local_time(task.get("completed_at")),
        outcome_text=outcome_label(p.lang, task.get("outcome")),
        history=history_items(p, instance),
        role_text=role_label(p.app, p.lang, task.get("role")),
        facts=_facts(p, task, model.field_names if model else frozenset()),
        users=user_choices(p.app) if is_open else [],
    )


def _seeded(p: Any, form_entity: str, task: dict[str, Any]) -> dict[str, Any]:
    """The task data over the linked record's values when the task's form is of the record's entity: a "draft
    the contract" step opens with the contract as it stands, not an empty form (the form writes into it)."""
    data = task.get("data") or {}
    linked = p.host.instance(task["instance_id"], p.ctx, check=False).get("record") or {}
    if linked.get("entity") != form_entity or not linked.get("id"):
        return data
    try:
        record = p.app.records.get(form_entity, linked["id"], p.ctx)
    except (Forbidden, NotFound):
        return data
    return {**{k: v for k, v in record.items() if v is not None}, **data}


@router.get("/tasks/{task_id}")
def task_page(task_id: str, request: Request) -> Response:
    p = page(request)
    task = views.task_view(p.host, parse_record_id(task_id), p.ctx)
    return _task_page(p, task)


@router.post("/tasks/{task_id}")
async def complete_task(task_id: str, request: Request) -> Response:
    p = page(request)
    ident = parse_record_id(task_id)
    task = views.task_view(p.host, ident, p.ctx)
    post = await request.form()
    outcome = str(post.get("_outcome") or "") or None
    comment = str(post.get("_comment") or "").strip()
    form = tasks_forms.blueprint_form(p, task.get("form_id"))
    payload: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    errors: list[FieldError] = []
    if form is not None:
        parsed, payload = tasks_forms.read_submission(p, form, post)
        raw = {**tasks_forms.initial_values(p, form, _seeded(p, form.entity, task))[0], **parsed.raw}
        errors = list(parsed.errors)
        if errors:  # some input is not even a value: show every problem at once, nothing is sent
            bad = {e.field.split(".")[0] for e in errors}
            readable = {k: v for k, v in payload.items() if k not in bad}
            errors += [e for e in tasks_forms.check(p, form, readable) if e.field.split(".")[0] not in bad]
        if COMMENT in payload and isinstance(payload[COMMENT], str):
            comment = payload[COMMENT].strip()
    if len(comment) > MAX_COMMENT:
        errors.append(FieldError("_comment", p.t("tasks.comment_too_long", limit=MAX_COMMENT), "max_length"))
    if not errors:
        try:
            p.host.complete(ident, payload, p.ctx, outcome=outcome, comment=comment or None)
        except RecordInvalid as exc:
            errors = [_localised(p, e, outcome) for e in exc.errors]
        except (Forbidden, Conflict, BadRequest) as exc:
            return _task_page(
                p, task, values=raw or None, data=payload, comment=comment, problem=exc.message, status=409
            )
        else:
            done = task_label(p.lang, task.get("process_id"), task["element_id"], task.get("name"))
            label = outcome_label(p.lang, outcome)
            flash(
                request,
                "success",
                p.t("tasks.completed", task=done, outcome=label) if label else p.t("tasks.completed_plain", task=done),
            )
            return RedirectResponse("/tasks", status_code=303)
    return _task_page(p, task, values=raw or None, data=payload, errors=errors, comment=comment, status=422)


def _localised(p: Page, error: FieldError, outcome: str | None) -> FieldError:
    """The host's "a rejection needs a comment" in the user's language."""
    if error.field == COMMENT and error.code == "required":
        return FieldError(COMMENT, p.t("tasks.comment_required", outcome=outcome_label(p.lang, outcome)), "required")
    return error


async def _target_user(request: Request) -> int | None:
    raw = (await request.form()).get("user_id")
    return int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 19 else None


async def _hand_over(task_id: str, request: Request, kind: str) -> Response:
    p = page(request)
    ident = parse_record_id(task_id)
    views.task_view(p.host, ident, p.ctx)  # 404 for someone who may not see the task
    user_id = await _target_user(request)
    action = p.host.delegate if kind == "delegate" else p.host.reassign
    try:
        if user_id is None:
            raise RecordInvalid([FieldError("user_id", p.t("tasks.pick_user"), "required")])
        action(ident, user_id, p.ctx)
    except RecordInvalid:
        flash(request, "warning", p.t("tasks.pick_user"))
        return RedirectResponse(f"/tasks/{ident}", status_code=303)
    except (Forbidden, Conflict) as exc:
        flash(request, "warning", p.t(f"tasks.{kind}_failed", reason=exc.message))
        return RedirectResponse(f"/tasks/{ident}", status_code=303)
    who = names(p.app, [user_id]).get(user_id, f"#{user_id}")
    flash(request, "success", p.t("tasks.delegated" if kind == "delegate" else "tasks.reassigned", who=who))
    return RedirectResponse("/tasks", status_code=303)


@router.post("/tasks/{task_id}/delegate")
async def delegate_task(task_id: str, request: Request) -> Response:
    return await _hand_over(task_id, request, "delegate")


@router.post("/tasks/{task_id}/reassign")
async def reassign_task(task_id: str, request: Request) -> Response:
    return await _hand_over(task_id, request, "reassign")
