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
from ui.routes.followups import work_item_count, work_item_rows
from ui.routes.tasks_common import (
    Page,
    due_mark,
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


DONE_PAGE = 50
"""我已办 shows this many tasks per page (every completed task stays reachable through the pages)."""


def done_rows(p: Page, *, process_id: str | None, page_no: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the tasks this user completed, newest first, and how many there are in all."""
    items, total = views.done_by(
        p.host, p.ctx, process_id=process_id, offset=(page_no - 1) * DONE_PAGE, limit=DONE_PAGE
    )
    return decorate(p, items), total


def inbox_rows(p: Page, *, status: str = "open", process_id: str | None = None) -> list[dict[str, Any]]:
    """The inbox as the page shows it: labels, linked record, assignee and due marks."""
    host = p.host
    if status == "done":
        items = views.done_by(host, p.ctx, process_id=process_id, limit=DONE_PAGE)[0]
    else:
        items = views.inbox(host, p.ctx, process_id=process_id, overdue=True if status == "overdue" else None)
    return decorate(p, items) + ([] if process_id else work_item_rows(p, status=status))  # ui/routes/followups.py


def decorate(p: Page, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The host's rows carry the linked record's title, the process label and the starter's name."""
    now = p.app.clock.now()
    people = names(p.app, [i.get("assignee_id") for i in items])
    rows = []
    for item in items:
        pid = item.get("process_id") or ""
        rows.append(
            {
                **item,
                "label": task_label(p.lang, pid, item["element_id"], item.get("name")),
                "process_label": process_label(p.lang, pid, item.get("process_label")),
                "record": _record_link(p, item),
                "starter": item.get("started_by_name") or "",
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


def _record_link(p: Page, item: dict[str, Any]) -> dict[str, Any] | None:
    entity_id, record_id = item.get("entity"), item.get("record_id")
    if not entity_id or record_id is None:
        return None
    entity = p.app.registry.entities.get(entity_id)
    label = entity.label_in(p.lang) if entity is not None else entity_id
    title = item.get("record_title")
    if title is None:  # the user may not see the record: its number only, no link
        return {"title": f"#{record_id}", "href": None, "entity": label}
    return {"title": title, "href": f"/r/{entity_id}/{record_id}", "entity": label}


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
    raw_page = request.query_params.get("page") or "1"
    page_no = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and 0 < int(raw_page) < 10**6 else 1
    pager = None
    if status == "done" and not q:
        rows, total = done_rows(p, process_id=process_id, page_no=page_no)
        if page_no == 1 and not process_id:  # work items done (ui/routes/followups.py) head the first page
            rows += work_item_rows(p, status=status)
        pages = max(1, -(-total // DONE_PAGE))
        pager = {"page": page_no, "pages": pages, "total": total, "prev": page_no > 1, "next": page_no < pages}
    elif status == "done":  # a search looks through everything done, not one page of it
        rows = _search_done(p, process_id, q)
    else:
        rows = inbox_rows(p, status=status, process_id=process_id)
    if q and status != "done":
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
        pager=pager,
        filtered=bool(q or process_id or status != "open"),
    )


def _search_done(p: Page, process_id: str | None, q: str) -> list[dict[str, Any]]:
    """Search every completed task of the user, page by page (a done list can be long; the matches are few)."""
    found: list[dict[str, Any]] = []
    page_no = 1
    while len(found) < DONE_PAGE * 4:
        rows, total = done_rows(p, process_id=process_id, page_no=page_no)
        found += [r for r in rows if _matches(r, q)]
        if page_no * DONE_PAGE >= total:
            break
        page_no += 1
    return found


@router.get("/tasks/_count")
def open_count(request: Request) -> Response:
    """The sidebar badge (loaded by htmx after the page): how many open tasks wait for this user."""
    user = optional_user(request)
    if user is None:
        return HTMLResponse("")
    ctx = ui_context(request, user)
    items = views.inbox(get_tessera(request).workflows, ctx)
    work_items, work_overdue = work_item_count(get_tessera(request), user.id)  # ui/routes/followups.py
    overdue = any(i.get("overdue") for i in items) or work_overdue
    if not items and not work_items:
        return HTMLResponse("")
    tone = "text-bg-danger" if overdue else "text-bg-primary"
    count = len(items) + work_items
    return HTMLResponse(f'<span class="badge rounded-pill {tone} ms-auto" id="tasks-count">{count}</span>')


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
