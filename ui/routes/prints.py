"""Print pages: one record in its form layout, or the current page of a list, without the app's chrome.

Both ask runtime.exports for the data (print right checked, read scope and masking applied by the
records service, an operation-log entry written) and lay it out for paper: a header with the
site's name, headed blocks for the form's tabs and sections, and a footer saying who printed
it and when.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from runtime.api.deps import client_ip
from runtime.api.deps import record_id as parse_record_id
from runtime.api.deps import tessera as get_tessera
from runtime.blueprints.model import Entity, View, label_text
from runtime.clock import utc_to_local
from runtime.exports import Actor, print_list, print_record
from runtime.identity.users import User
from runtime.permissions.model import HIDDEN, MASKED
from runtime.records import Context
from runtime.records.titles import record_title
from runtime.services import Tessera
from ui import layout
from ui.formatting import display, system_value
from ui.i18n import t
from ui.lookups import Lookups
from ui.record_pages import TabModel, build_detail_tabs
from ui.routes.lists import build_query
from ui.session import require_user, ui_context
from ui.templating import render

router = APIRouter()
STAMPS = ("created_at", "created_by", "updated_at", "updated_by")
PAGE_ONLY = frozenset({"lang", "month", "form"})
OPS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥", "in": "∈", "between": "∈"}


# one record -------------------------------------------------------------------------------------
@router.get("/r/{entity_id}/{rid}/print")
def print_record_page(entity_id: str, rid: str, request: Request) -> Response:
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    entity = app.registry.entity(entity_id)
    record = print_record(app, entity.id, parse_record_id(rid), ctx, _actor(request, user))
    form = layout.resolve_form(app.registry, entity, request.query_params.get("form"))
    editable = {f.name: record.get(f.name) for f in entity.fields if not f.is_system_filled}
    state = app.records.form_state(entity.id, editable, ctx, form_id=form.id if form else None)
    lookups = Lookups(app, ctx).prime(entity.fields, [record])
    spec = layout.form_layout(entity, form, ctx.lang)
    tabs = _without_hidden(
        build_detail_tabs(app, ctx, entity, spec, record, state.states, lookups),
        app.permissions.field_levels(ctx, entity),
    )
    title = record_title(app, entity, record, ctx)
    stamps = {
        k: system_value(k, record.get(k), lookups) for k in ("created_at", "created_by", "updated_at", "updated_by")
    }
    return render(
        request,
        "print/record.html",
        user,
        page_title=t(ctx.lang, "print.title", title=title),
        entity=entity,
        record=record,
        title=title,
        tabs=tabs,
        stamps=stamps,
        back_url=f"/r/{entity.id}/{record['id']}",
        **_sheet(app, ctx, user, entity, [f.name for f in entity.fields]),
    )


def _without_hidden(tabs: list[TabModel], levels: dict[str, str]) -> list[TabModel]:
    """A field the user may not read at all is left out of the printout, label included."""
    out = []
    for tab in tabs:
        for section in tab.sections:
            section.items = [i for i in section.items if levels.get(i.field.name) != HIDDEN]
        tab.sections = [s for s in tab.sections if s.items]
        if tab.sections:
            out.append(tab)
    return out


# the current page of a list ---------------------------------------------------------------------
@router.get("/v/{view_id}/print")
def print_view(view_id: str, request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    view = app.registry.view(view_id)
    return _print_list(request, user, app, app.registry.entity(view.entity), view, f"/v/{view.id}")


@router.get("/r/{entity_id}/print")
def print_entity_list(entity_id: str, request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    entity = app.registry.entity(entity_id)
    return _print_list(request, user, app, entity, app.registry.default_view(entity.id), f"/r/{entity.id}")


def _print_list(request: Request, user: User, app: Tessera, entity: Entity, view: View | None, base: str) -> Response:
    ctx = ui_context(request, user)
    params = [(k, v) for k, v in request.query_params.multi_items() if v != "" and k not in PAGE_ONLY]
    query = build_query(entity, view, params)
    page = print_list(app, entity.id, query, ctx, _actor(request, user), view)
    levels = app.permissions.field_levels(ctx, entity)
    columns = [c for c in layout.list_columns(entity, view) if levels.get(c.name) != HIDDEN]
    lookups = Lookups(app, ctx).prime(columns, page.items)
    rows = [[display(c, item.get(c.name), ctx.lang, app.registry, lookups) for c in columns] for item in page.items]
    title = label_text(view.opt("label"), ctx.lang) if view and view.opt("label") else entity.label_in(ctx.lang)
    return render(
        request,
        "print/list.html",
        user,
        page_title=t(ctx.lang, "print.title", title=title),
        title=title,
        columns=[(c.label_in(ctx.lang), c.type in ("integer", "decimal", "money", "percent")) for c in columns],
        rows=rows,
        conditions=_conditions(ctx, entity, params),
        back_url=base + ("?" + urlencode(params) if params else ""),
        **_sheet(app, ctx, user, entity, [c.name for c in columns]),
    )


def _conditions(ctx: Context, entity: Entity, params: list[tuple[str, str]]) -> str:
    """The user's filters and search in words, so a printout says what it is a selection of."""
    parts = []
    for key, value in params:
        if key == "q":
            parts.append(t(ctx.lang, "print.search", q=value))
            continue
        name, _, op = key.partition("__")
        f = entity.field(name)
        if f is None or key in ("sort", "cursor", "limit", "view", "count"):
            continue
        parts.append(f"{f.label_in(ctx.lang)} {OPS.get(op or 'eq', op)} {value}")
    return "; ".join(parts)


# shared -----------------------------------------------------------------------------------------
def _sheet(app: Tessera, ctx: Context, user: User, entity: Entity, shown: list[str]) -> dict[str, Any]:
    """Header and footer of every printout: site, who printed it and when, and a note when values are masked."""
    levels = app.permissions.field_levels(ctx, entity)
    now = app.clock.now()
    return {
        "site_name": app.params.get("site.name"),
        "printed_by": user.display_name or user.username,
        "printed_at": utc_to_local(now).strftime("%Y-%m-%d %H:%M"),
        "masked": any(levels.get(n) == MASKED for n in shown),
        "entity_label": entity.label_in(ctx.lang),
    }


def _actor(request: Request, user: User) -> Actor:
    return Actor(user.username, client_ip(request))
