"""我的待办 (/tasks): everything the user must do, the pool tasks they may claim, and what they have done.

Reads the host's inbox (runtime.workflows.views.inbox): tasks assigned to the user plus unclaimed pool
tasks of their roles, sorted by due time. Filters: process, status (open / overdue / done by me), search.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.api.deps import optional_user
from runtime.api.deps import record_id as parse_record_id
from runtime.api.deps import tessera as get_tessera
from runtime.errors import Conflict, Forbidden
from runtime.workflows import views
from ui.routes.tasks_common import (
    Page,
    RecordTitles,
    due_mark,
    instance_rows,
    local_time,
    names,
    page,
    process_label,
    processes,
    role_label,
    task_label,
)
from ui.session import flash, safe_next, ui_context
from ui.templating import Crumb, render

router = APIRouter()
STATUSES = ("open", "overdue", "done")


def inbox_rows(p: Page, *, status: str = "open", process_id: str | None = None) -> list[dict[str, Any]]:
    """The inbox as the page shows it: labels, linked record, assignee and due marks."""
    host = p.host
    if status == "done":
        items = views.inbox(host, p.ctx, process_id=process_id, status="completed")
        items = [i for i in items if i.get("completed_by") == p.user.id]
        items.sort(key=lambda i: i.get("completed_at") or "", reverse=True)
    else:
        items = views.inbox(host, p.ctx, process_id=process_id, overdue=True if status == "overdue" else None)
    return decorate(p, items)


def decorate(p: Page, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    now = p.app.clock.now()
    instances = instance_rows(p.app, {i["instance_id"] for i in items})
    people = names(p.app, [i.get("assignee_id") for i in items])
    titles = RecordTitles(p.app, p.ctx)
    labels = {row["id"]: row["label"] for row in processes(p.app, p.lang)}
    rows = []
    for item in items:
        inst = instances.get(item["instance_id"], {})
        pid = item.get("process_id") or ""
        rows.append(
            {
                **item,
                "label": task_label(p.lang, pid, item["element_id"], item.get("name")),
                "process_label": labels.get(pid) or process_label(p.lang, pid),
                "record": titles.link(inst.get("entity"), inst.get("record_id")),
                "assignee": people.get(item.get("assignee_id") or 0),
                "role_text": role_label(p.app, p.lang, item.get("role")),
                "mine": item.get("assignee_id") == p.user.id,
                "claimable": item.get("pool") and item.get("assignee_id") is None,
                "due_text": local_time(item.get("due_at")),
                "created_text": local_time(item.get("created_at")),
                "completed_text": local_time(item.get("completed_at")),
                "due_mark": due_mark(item, now),
                "href": f"/tasks/{item['id']}",
            }
        )
    return rows


def _matches(row: dict[str, Any], q: str) -> bool:
    q = q.casefold()
    hay = [row["label"], row["process_label"], row.get("name") or "", (row.get("record") or {}).get("title", "")]
    return any(q in h.casefold() for h in hay)


@router.get("/tasks")
def inbox_page(request: Request) -> Response:
    p = page(request)
    status = request.query_params.get("status") or "open"
    status = status if status in STATUSES else "open"
    known = processes(p.app, p.lang)
    process_id = request.query_params.get("process") or None
    if process_id not in {k["id"] for k in known}:
        process_id = None
    q = (request.query_params.get("q") or "").strip()[:100]
    rows = inbox_rows(p, status=status, process_id=process_id)
    if q:
        rows = [r for r in rows if _matches(r, q)]
    counts = {"overdue": sum(1 for r in rows if r["due_mark"] == "overdue") if status == "open" else 0}
    return render(
        request,
        "tasks/inbox.html",
        p.user,
        crumbs=[Crumb(p.t("nav.home"), "/"), Crumb(p.t("tasks.title"))],
        page_title="tasks.title",
        rows=rows,
        shown_status=status,
        statuses=STATUSES,
        process_id=process_id or "",
        processes=known,
        q=q,
        counts=counts,
        filtered=bool(q or process_id or status != "open"),
    )


@router.get("/tasks/_count")
def open_count(request: Request) -> Response:
    """The sidebar badge (loaded by htmx after the page): how many open tasks wait for this user."""
    user = optional_user(request)
    if user is None:
        return HTMLResponse("")
    ctx = ui_context(request, user)
    items = views.inbox(get_tessera(request).workflows, ctx)
    overdue = any(i.get("overdue") for i in items)
    if not items:
        return HTMLResponse("")
    tone = "text-bg-danger" if overdue else "text-bg-primary"
    return HTMLResponse(f'<span class="badge rounded-pill {tone} ms-auto" id="tasks-count">{len(items)}</span>')


@router.post("/tasks/{task_id}/claim")
async def claim_task(task_id: str, request: Request) -> Response:
    p = page(request)
    ident = parse_record_id(task_id)
    post = await request.form()
    back = safe_next(str(post.get("next") or ""), f"/tasks/{ident}")
    try:
        p.host.claim(ident, p.ctx)
    except (Conflict, Forbidden) as exc:
        flash(request, "warning", p.t("tasks.claim_failed", reason=exc.message))
        return RedirectResponse(back, status_code=303)
    flash(request, "success", p.t("tasks.claimed"))
    return RedirectResponse(back, status_code=303)
