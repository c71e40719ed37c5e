"""/admin/errors: unexpected errors, newest first, and one error with its traceback.

A user who hits an error sees a friendly page with the request id (ui/errors.py); pasting that
id into this page's search box finds the entry. Tracebacks are for administrators only: the list
never carries them and the detail page needs the same admin check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from runtime import errorlog
from runtime.errors import NotFound
from ui import directory
from ui.routes.admin_logs_common import MAX_ID, PAGE_SIZE, QueryForm, before_id, local_time, page_url, require_admin
from ui.templating import Crumb, render

router = APIRouter()
BASE = "/admin/errors"
MESSAGE_PREVIEW = 160


@dataclass
class ErrorView:
    id: int
    at: str
    request_id: str | None
    route: str
    user: str | None
    error_type: str
    message: str


@router.get(BASE)
def errors_page(request: Request) -> HTMLResponse:
    page = require_admin(request)
    app = page.app
    form = QueryForm(request, page.lang)
    request_id = form.text("request_id", 64)
    path = form.text("path", 500)
    since, until = form.date_range()
    cursor = before_id(request)
    rows: list[dict[str, Any]] = []
    next_id = None
    if form.valid:
        filters = errorlog.ErrorFilter(request_id=request_id, path=path, since=since, until=until)
        rows = errorlog.query_errors(app.db, filters, limit=PAGE_SIZE + 1, before_id=cursor)
        if len(rows) > PAGE_SIZE:
            rows = rows[:PAGE_SIZE]
            next_id = rows[-1]["id"]
    names = directory.user_names(app, {r["user_id"] for r in rows if r.get("user_id")})
    entries = [_view(row, names, preview=True) for row in rows]
    return render(
        request,
        "admin/logs/errors.html",
        page.user,
        crumbs=[Crumb(page.t("logs.hub.title"), "/admin"), Crumb(page.t("logs.errors.title"))],
        page_title="logs.errors.title",
        form=form,
        entries=entries,
        searched_id=request_id if form.valid else None,
        base=BASE,
        older_url=page_url(BASE, form.raw, before_id=next_id) if next_id else None,
        newest_url=page_url(BASE, form.raw) if cursor else None,
    )


@router.get(BASE + "/{error_id}")
def error_detail(error_id: str, request: Request) -> HTMLResponse:
    page = require_admin(request)
    row = None
    if error_id.isascii() and error_id.isdigit() and 1 <= int(error_id) <= MAX_ID:
        row = errorlog.get_error(page.app.db, int(error_id))
    if row is None:
        raise NotFound(page.t("logs.errors.missing", id=error_id[:40]))
    names = directory.user_names(page.app, {row["user_id"]} if row.get("user_id") else set())
    title = page.t("logs.errors.detail_title", id=row["id"])
    return render(
        request,
        "admin/logs/error_detail.html",
        page.user,
        crumbs=[
            Crumb(page.t("logs.hub.title"), "/admin"),
            Crumb(page.t("logs.errors.title"), BASE),
            Crumb(title),
        ],
        page_title=title,
        title=title,
        error=_view(row, names, preview=False),
        traceback=row.get("traceback") or "",
    )


def _view(row: dict[str, Any], names: dict[int, str], *, preview: bool) -> ErrorView:
    message = row.get("message") or ""
    if preview and len(message) > MESSAGE_PREVIEW:
        message = message[: MESSAGE_PREVIEW - 1] + "…"
    user_id = row.get("user_id")
    return ErrorView(
        id=row["id"],
        at=local_time(row["at"]),
        request_id=row.get("request_id"),
        route=" ".join(p for p in (row.get("method"), row.get("path")) if p),
        user=(f"{names.get(user_id, '')} (#{user_id})".strip() if user_id else None),
        error_type=row.get("error_type") or "",
        message=message,
    )
