"""The global search page (/search?q=), reached from the search box in the top bar.

runtime.search does the work (every readable entity, its search fields, scope and masking); this
page groups the matches by entity with a few values each and a link to the full list.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from runtime import search as global_search
from runtime.api.deps import tessera as get_tessera
from runtime.blueprints.model import Field
from runtime.errors import BadRequest
from runtime.permissions.model import MASKED
from runtime.records import Context
from runtime.services import Tessera
from ui.formatting import Cell, display
from ui.i18n import t
from ui.lookups import Lookups
from ui.session import require_user, ui_context
from ui.templating import Crumb, render

router = APIRouter()


@router.get("/search")
def search_page(request: Request) -> Response:
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    raw = request.query_params.get("q", "")
    problem: str | None = None
    result: global_search.SearchResult | None = None
    try:
        result = global_search.search(app, raw, ctx)
    except BadRequest as exc:
        problem = t(ctx.lang, "search.invalid", message=exc.message)
    groups = [_group(app, ctx, g, result.query) for g in result.groups] if result else []
    return render(
        request,
        "search.html",
        user,
        status=400 if problem else 200,
        crumbs=[Crumb(t(ctx.lang, "nav.home"), "/"), Crumb(t(ctx.lang, "search.title"))],
        page_title="search.title",
        q=raw[: global_search.MAX_LENGTH + 50],
        problem=problem,
        too_short=bool(result and result.too_short and result.query),
        searched=bool(result and not result.too_short),
        groups=groups,
    )


def _group(app: Tessera, ctx: Context, group: global_search.SearchGroup, q: str) -> dict[str, Any]:
    entity = group.entity
    levels = app.permissions.field_levels(ctx, entity)
    fields = [f for f in (entity.field(n) for n in group.fields if n != entity.title_field) if f is not None][:4]
    lookups = Lookups(app, ctx).prime(fields, group.items)
    view = app.registry.default_view(entity.id)
    base = f"/v/{view.id}" if view else f"/r/{entity.id}"
    total = group.total if group.total is not None else len(group.items)
    key = "search.count" if group.total_is_exact else "search.count_capped"
    return {
        "id": entity.id,
        "label": entity.label_in(ctx.lang),
        "count": t(ctx.lang, key, total=f"{total:,}"),
        "all_url": base + "?" + urlencode({"q": q}),
        "more": total > len(group.items),
        "hits": [
            {
                "href": f"/r/{entity.id}/{item['id']}",
                "title": group.titles.get(item["id"]) or f"#{item['id']}",
                "cells": [(f.label_in(ctx.lang), _cell(app, ctx, f, item, levels, lookups)) for f in fields],
            }
            for item in group.items
        ],
    }


def _cell(app: Tessera, ctx: Context, f: Field, item: dict[str, Any], levels: dict[str, str], lookups: Lookups) -> Cell:
    """A masked value is plain text (no tel:/mailto: link built from a masked number)."""
    value = item.get(f.name)
    if levels.get(f.name) == MASKED and isinstance(value, str):
        return Cell("text", text=value)
    return display(f, value, ctx.lang, app.registry, lookups)
