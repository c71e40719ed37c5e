"""The notification centre: the header bell, /notifications, and live updates by Server-Sent Events.

* ``/notifications/_bell`` the bell's badge and dropdown (htmx fragment, loaded after the page)
* ``/notifications/stream`` an event stream: ``count`` events {unread, latest} whenever either changes, so
  the badge rises and the dropdown refreshes without a reload (ui/static/ui/notify.js). Each stream lasts a
  minute and then asks the browser to reconnect, so no connection is held forever by a worker; without
  EventSource the bell polls the fragment every 30 seconds instead.
* ``/notifications`` all / unread, mark read, mark all read; ``/notifications/{id}/open`` marks read and
  follows the link (only same-site links).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from runtime.api.deps import optional_user
from runtime.api.deps import record_id as parse_id
from runtime.api.deps import tessera as get_tessera
from runtime.errors import NotFound
from runtime.notify import inbox
from ui.formatting import local_datetime_text
from ui.i18n import t
from ui.session import flash, page_language, require_user, safe_next
from ui.templating import Crumb, render, render_fragment

router = APIRouter()
BELL_ITEMS = 6
STREAM_SECONDS = 60.0
POLL_SECONDS = 1.0


def _rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**i, "when": local_datetime_text(i["created_at"]), "href": f"/notifications/{i['id']}/open"} for i in items
    ]


@router.get("/notifications/_bell")
def bell(request: Request) -> Response:
    user = optional_user(request)
    if user is None:
        return HTMLResponse("")
    app = get_tessera(request)
    items = _rows(inbox.listing(app.db, user.id, limit=BELL_ITEMS))
    html = render_fragment(
        request, "notify/bell_menu.html", user, items=items, unread=inbox.unread_count(app.db, user.id)
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/notifications/stream")
async def stream(request: Request) -> Response:
    user = optional_user(request)
    if user is None:
        return Response(status_code=401)
    app = get_tessera(request)

    def state() -> tuple[int, int]:
        return inbox.unread_count(app.db, user.id), inbox.latest_id(app.db, user.id)

    async def events() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        last: tuple[int, int] | None = None
        loop = asyncio.get_running_loop()
        until = loop.time() + STREAM_SECONDS
        while loop.time() < until:
            if await request.is_disconnected():
                return
            now = await run_in_threadpool(state)
            if now != last:
                last = now
                yield f"event: count\ndata: {json.dumps({'unread': now[0], 'latest': now[1]})}\n\n"
            else:
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_SECONDS)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/notifications")
def centre(request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    lang = page_language(request, user)
    shown = "unread" if request.query_params.get("show") == "unread" else "all"
    items = _rows(inbox.listing(app.db, user.id, unread_only=shown == "unread", limit=200))
    return render(
        request,
        "notify/centre.html",
        user,
        crumbs=[Crumb(t(lang, "nav.home"), "/"), Crumb(t(lang, "notify.title"))],
        page_title="notify.title",
        items=items,
        shown=shown,
        unread=inbox.unread_count(app.db, user.id),
    )


@router.get("/notifications/{notification_id}/open")
def open_notification(request: Request, notification_id: str) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    item = inbox.mark_read(app.db, user.id, parse_id(notification_id), app.clock.now())
    return RedirectResponse(safe_next(item["link"], "/notifications"), status_code=303)


@router.post("/notifications/{notification_id}/read")
async def read_one(request: Request, notification_id: str) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    post = await request.form()
    with contextlib.suppress(NotFound):  # someone else's or gone: nothing to mark, and nothing to reveal
        inbox.mark_read(app.db, user.id, parse_id(notification_id), app.clock.now())
    return RedirectResponse(safe_next(str(post.get("next") or ""), "/notifications"), status_code=303)


@router.post("/notifications/read-all")
async def read_all(request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    post = await request.form()
    marked = inbox.mark_all_read(app.db, user.id, app.clock.now())
    flash(request, "success", t(page_language(request, user), "notify.marked_all", n=marked))
    return RedirectResponse(safe_next(str(post.get("next") or ""), "/notifications"), status_code=303)


def _include_subpages() -> None:
    """One router for the whole feature, so ui/routes/__init__.py registers it with one line."""
    from ui.routes import notifications_admin, notifications_prefs

    router.include_router(notifications_prefs.router)
    router.include_router(notifications_admin.router)


_include_subpages()
