"""/admin/jobs: background jobs waiting, failed (with their errors and a retry button) and recently done.

Jobs retry by themselves with growing pauses (runtime/jobs); a job that ran out of retries stays failed until
an administrator, having fixed the cause (a mail server, a gateway address), presses "retry".
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from runtime.errors import BadRequest
from runtime.jobs.admin import get_job, list_jobs, status_counts
from ui.routes.admin_logs_common import MAX_ID, local_time, require_admin
from ui.session import flash
from ui.templating import Crumb, render

router = APIRouter()
BASE = "/admin/jobs"
LIMIT = 50
TABS = {"waiting": ["queued", "handed", "running"], "failed": ["failed"], "done": ["done"]}
ERROR_LINES = 12


@dataclass
class JobView:
    id: int
    name: str
    key: str
    status: str
    run_at: str
    finished_at: str
    attempts: int
    error_summary: str
    error: str
    payload: str


@router.get(BASE)
def jobs_page(request: Request, tab: str = "waiting") -> HTMLResponse:
    page = require_admin(request)
    if tab not in TABS:
        raise BadRequest(page.t("jobs.bad_tab", tab=tab[:40]))
    counts = status_counts(page.app.db)
    rows = list_jobs(page.app.db, TABS[tab], limit=LIMIT)
    return render(
        request,
        "admin/jobs.html",
        page.user,
        crumbs=[Crumb(page.t("logs.hub.title"), "/admin"), Crumb(page.t("jobs.title"))],
        page_title="jobs.title",
        base=BASE,
        tab=tab,
        tabs=[(key, sum(counts[s] for s in statuses)) for key, statuses in TABS.items()],
        entries=[_view(row) for row in rows],
        limit=LIMIT if len(rows) == LIMIT else None,
    )


@router.post(BASE + "/{job_id}/retry")
def retry_job(job_id: str, request: Request) -> RedirectResponse:
    """Queue a failed job again; anything else (gone, not failed, a malformed id) says so on the page."""
    page = require_admin(request)
    valid = job_id.isascii() and job_id.isdigit() and 1 <= int(job_id) <= MAX_ID
    job = get_job(page.app.db, int(job_id)) if valid else None
    if job is None or not page.app.jobs.retry(int(job_id)):
        flash(request, "warning", page.t("jobs.not_retryable", id=job_id[:40]))
    else:
        flash(request, "success", page.t("jobs.retried", id=job_id, name=job["name"]))
    return RedirectResponse(f"{BASE}?tab=failed", status_code=303)


def _view(row: dict) -> JobView:
    error = (row.get("last_error") or "").strip()
    lines = error.splitlines()
    return JobView(
        id=row["id"],
        name=row["name"],
        key=row["key"],
        status=row["status"],
        run_at=local_time(row["run_at"]),
        finished_at=local_time(row.get("finished_at")),
        attempts=row["attempts"],
        error_summary=lines[-1] if lines else "",
        error="\n".join(lines[-ERROR_LINES:]),
        payload=json.dumps(row.get("payload") or {}, ensure_ascii=False, sort_keys=True)[:2000],
    )
