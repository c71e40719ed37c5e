"""GET /api/v1/records/{entity}/export: the rows of a list query as a CSV or Excel download.

Takes the list endpoint's query parameters (filters, sort, q, view) plus `format`; the rows are
those `GET /api/v1/records/{entity}` pages through for the same parameters. Registered before
the records routes, or `/export` would be read as a record id.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from runtime.api.deps import client_ip, context, current_user, tessera
from runtime.exports import Actor, Exporter, list_query_from_params

router = APIRouter(prefix="/api/v1/records", tags=["records"])
NOT_QUERY = frozenset({"format", "cursor", "limit", "count"})
"""Parameters that shape the download rather than select rows."""


@router.get("/{entity}/export")
def export_records(entity: str, request: Request) -> StreamingResponse:
    user = current_user(request)
    app = tessera(request)
    ent = app.registry.entity(entity)
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in NOT_QUERY]
    query = list_query_from_params(app.registry, ent, params)
    view_id = request.query_params.get("view")
    file = Exporter(app).export(
        ent.id,
        query,
        context(request, user),
        request.query_params.get("format", "csv"),
        view=app.registry.view(view_id) if view_id else None,
        actor=Actor(user.username, client_ip(request)),
    )
    headers = {"Content-Disposition": file.content_disposition, "X-Export-Rows": str(file.rows)}
    return StreamingResponse(file.chunks, media_type=file.media_type, headers=headers)
