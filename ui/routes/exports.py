"""Pages of the exports area: list downloads (Excel/CSV), and the print and search pages it registers.

The download links sit in the list page's toolbar and carry the list's current query string,
so the file holds what the list shows: the view's fixed filters and sort, the user's filters,
sort and search (parsed by the same `build_query` as the list page). The work is done by
runtime.exports; this module only turns its answers into a download or a friendly message.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from runtime.api.deps import client_ip
from runtime.api.deps import tessera as get_tessera
from runtime.blueprints.model import Entity, View
from runtime.errors import BadRequest
from runtime.exports import Actor, Exporter, ExportTooLarge
from runtime.identity.users import User
from ui.i18n import t
from ui.routes import prints, search
from ui.routes.lists import build_query
from ui.session import flash, require_user, ui_context

router = APIRouter()
NOT_QUERY = frozenset({"format", "cursor", "limit", "lang", "month", "form"})
"""Parameters of the page or the download, not of the rows."""


@router.get("/v/{view_id}/export")
def export_view(view_id: str, request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    view = app.registry.view(view_id)
    return _export(request, user, app.registry.entity(view.entity), view, f"/v/{view.id}")


@router.get("/r/{entity_id}/export")
def export_entity(entity_id: str, request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    entity = app.registry.entity(entity_id)
    return _export(request, user, entity, app.registry.default_view(entity.id), f"/r/{entity.id}")


def row_params(request: Request) -> list[tuple[str, str]]:
    """The list's own query parameters (empty filter boxes ignored, as on the list page)."""
    return [(k, v) for k, v in request.query_params.multi_items() if v != "" and k not in NOT_QUERY]


def _export(request: Request, user: User, entity: Entity, view: View | None, base: str) -> Response:
    app, ctx = get_tessera(request), ui_context(request, user)
    params = row_params(request)
    back = base + ("?" + urlencode(params) if params else "")
    try:
        query = build_query(entity, view, params)
        file = Exporter(app).export(
            entity.id,
            query,
            ctx,
            request.query_params.get("format", "xlsx"),
            view=view,
            actor=Actor(user.username, client_ip(request)),
        )
    except ExportTooLarge as exc:
        flash(request, "warning", t(ctx.lang, "export.too_large", rows=f"{exc.rows:,}", cap=f"{exc.cap:,}"))
        return RedirectResponse(back, status_code=303)
    except BadRequest as exc:
        flash(request, "warning", t(ctx.lang, "export.bad_query", message=exc.message))
        return RedirectResponse(back, status_code=303)
    headers = {"Content-Disposition": file.content_disposition, "Cache-Control": "no-store"}
    return StreamingResponse(file.chunks, media_type=file.media_type, headers=headers)


for module in (prints, search):
    router.include_router(module.router)
