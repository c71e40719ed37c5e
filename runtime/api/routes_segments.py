"""Segments over REST (saved target groups of records, runtime/segments).

* ``GET    /api/v1/segments[?entity=]`` the segments the caller may open (pack and user-saved), each with
  ``list_url``: the same filters as list URL parameters (``field__op=value``)
* ``GET    /api/v1/segments/{id}`` one segment
* ``GET    /api/v1/segments/{id}/records[?limit=&cursor=]`` its records the caller may read, with the exact
  ``total`` on the first page (the records service applies permissions and data scopes)
* ``POST   /api/v1/segments`` {"entity", "label", "filters": [{"field", "op", "value"}], "search"?, "view"?,
  "shared_role"?} saves a personal segment (shared with a role the caller holds when ``shared_role`` is set)
* ``DELETE /api/v1/segments/{id}`` deletes a segment one saved

A filter the list would refuse (unknown field, operator the field type does not allow, bad value) is a 400
naming the filter.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from runtime.api.deps import context, current_user, json_object, tessera
from runtime.errors import BadRequest
from runtime.records.context import Context
from runtime.records.query import MAX_LIMIT
from runtime.segments import Segment, SegmentService, filters_to_params

router = APIRouter(prefix="/api/v1", tags=["segments"])
SAVE_KEYS = {"entity", "label", "filters", "search", "view", "shared_role"}
FILTER_SCHEMA = {
    "type": "object",
    "required": ["field", "op"],
    "properties": {"field": {"type": "string"}, "op": {"type": "string"}, "value": {}},
}
SAVE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["entity", "label"],
                    "properties": {
                        "entity": {"type": "string"},
                        "label": {"type": "string", "maxLength": 100},
                        "filters": {"type": "array", "items": FILTER_SCHEMA},
                        "search": {"type": "string", "maxLength": 200},
                        "view": {"type": "string"},
                        "shared_role": {"type": "string"},
                    },
                }
            }
        },
    }
}


def _ctx(request: Request) -> Context:
    return context(request, current_user(request))


def list_url(app: Any, segment: Segment) -> str:
    """Where the segment opens as a normal filtered list (its view, or the entity's list)."""
    base = f"/v/{segment.view}" if segment.view and segment.view in app.registry.views else f"/r/{segment.entity}"
    params = filters_to_params(segment.filters, segment.search)
    return base + ("?" + urlencode(params) if params else "")


def described(app: Any, segment: Segment) -> dict[str, Any]:
    return {**segment.as_dict(), "list_url": list_url(app, segment)}


@router.get("/segments")
def list_segments(request: Request, entity: str | None = None) -> dict[str, Any]:
    app = tessera(request)
    return {"items": [described(app, s) for s in SegmentService(app).visible(_ctx(request), entity)]}


@router.get("/segments/{segment_id}")
def get_segment(request: Request, segment_id: str) -> dict[str, Any]:
    app = tessera(request)
    return described(app, SegmentService(app).get(segment_id, _ctx(request)))


@router.get("/segments/{segment_id}/records")
def segment_records(request: Request, segment_id: str, limit: str = "50", cursor: str | None = None) -> dict[str, Any]:
    app = tessera(request)
    ctx = _ctx(request)
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number between 1 and {MAX_LIMIT}")
    service = SegmentService(app)
    segment = service.get(segment_id, ctx)
    page = service.records(segment, ctx, limit=int(limit), cursor=cursor or None)
    return {"segment": described(app, segment), **page.as_dict()}


@router.post("/segments", status_code=201, openapi_extra=SAVE_BODY)
async def save_segment(request: Request) -> dict[str, Any]:
    app = tessera(request)
    body = await json_object(request)
    unknown = set(body) - SAVE_KEYS
    if unknown:
        raise BadRequest(f"unknown key(s) {', '.join(sorted(unknown))}; a segment has {', '.join(sorted(SAVE_KEYS))}")
    segment = SegmentService(app).save(
        _ctx(request),
        entity=body.get("entity"),
        label=body.get("label"),
        filters=body.get("filters", []),
        search=body.get("search"),
        view=body.get("view"),
        shared_role=body.get("shared_role"),
    )
    return described(app, segment)


@router.delete("/segments/{segment_id}", status_code=204)
def delete_segment(request: Request, segment_id: str) -> Response:
    SegmentService(tessera(request)).delete(segment_id, _ctx(request))
    return Response(status_code=204)
