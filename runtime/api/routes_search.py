"""GET /api/v1/search?q=: one text across every entity the caller may read (runtime.search)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from runtime import search as global_search
from runtime.api.deps import context, current_user, tessera
from runtime.errors import BadRequest

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get("/search")
def search(request: Request) -> dict[str, Any]:
    """Matches grouped by entity (up to 5 each, with a capped total); values masked as in the records API."""
    user = current_user(request)
    ctx = context(request, user)
    result = global_search.search(tessera(request), request.query_params.get("q"), ctx)
    if result.too_short:
        raise BadRequest(global_search.message("short", ctx.lang))
    return global_search.as_json(result, ctx.lang)
