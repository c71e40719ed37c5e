"""Segment pages (客群 / target groups, runtime/segments): the segments a user may open with their counts
(/segments), one segment's records in the list's table with "open as list" (/segments/{id}), and "save as
segment" from a list page (/segments/new/v/{view} or /segments/new/r/{entity} with the list's query string):
a form showing the filters in words, a name and with whom to share it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.api.routes_segments import list_url
from runtime.blueprints.model import Entity, View, label_text
from runtime.errors import BadRequest, Forbidden, NotFound
from runtime.segments import Segment, SegmentService
from runtime.segments.model import filter_text, filters_from_params
from ui import layout
from ui.formatting import display
from ui.layout import hidden_fields
from ui.lookups import Lookups
from ui.routes.lists import Column
from ui.routes.tasks_common import Page, page
from ui.session import flash
from ui.templating import Crumb, render

router = APIRouter()
PAGE_SIZE = 50


@dataclass
class FilterText:
    field: str
    op: str
    value: str


def describe(p: Page, entity: Entity, filters: list[dict[str, Any]], search: str | None) -> list[FilterText]:
    """Filters in the user's words: field label, operator, values with option labels."""
    out = []
    for spec in filters:
        f = entity.field(spec["field"])
        label = f.label_in(p.lang) if f is not None else spec["field"]
        values = spec.get("value") if isinstance(spec.get("value"), list) else [spec.get("value")]
        if spec["op"] == "empty":
            out.append(FilterText(label, p.t("segment.op.empty" if spec.get("value") else "segment.op.not_empty"), ""))
            continue
        shown = []
        option_set = p.app.registry.option_sets.get(f.opt("option_set") or "") if f is not None else None
        for value in values:
            text = filter_text(value)
            option = option_set.find(text) if option_set is not None else None
            shown.append(label_text(option.label, p.lang) if option is not None else text)
        out.append(FilterText(label, p.t(f"segment.op.{spec['op']}"), p.t("segment.joiner").join(shown)))
    if search:
        out.append(FilterText(p.t("segment.search"), p.t("segment.op.contains"), search))
    return out


@router.get("/segments")
def segments_page(request: Request) -> Response:
    p = page(request)
    service = SegmentService(p.app)
    cards = []
    for segment in service.visible(p.ctx):
        entity = p.app.registry.entity(segment.entity)
        try:
            total = service.records(segment, p.ctx, limit=1).total
        except BadRequest:  # a saved segment whose field was removed since: shown, not counted
            total = None
        cards.append(_card(p, segment, entity, total))
    title = p.t("segment.title")
    return render(
        request, "segments/index.html", p.user, crumbs=[Crumb(p.t("nav.home"), "/"), Crumb(title)],
        page_title=title, title=title, cards=cards,
    )


def _card(p: Page, segment: Segment, entity: Entity, total: int | None) -> dict[str, Any]:
    return {
        "id": segment.id,
        "label": label_text(segment.label, p.lang),
        "description": label_text(segment.description, p.lang) if segment.description else "",
        "entity": label_text(entity.raw.get("label_plural") or entity.label, p.lang),
        "filters": describe(p, entity, segment.filters, segment.search),
        "total": total,
        "source": segment.source,
        "shared": bool(segment.roles) and segment.source == "user",
        "mine": segment.owner_id == p.ctx.user_id,
        "list_url": list_url(p.app, segment),
    }


@router.get("/segments/new/{kind}/{ident}")
def new_segment_page(request: Request, kind: str, ident: str) -> Response:
    """The save form for the list at /v/{ident} (kind v) or /r/{ident} (kind r), filters from the query string."""
    p = page(request)
    entity, view = _list_target(p, kind, ident)
    params = [(k, v) for k, v in request.query_params.multi_items() if v != ""]
    try:
        filters, search = filters_from_params(entity, params)
    except BadRequest as exc:
        flash(request, "warning", exc.message)
        return RedirectResponse(f"/{kind}/{ident[:100]}", status_code=303)
    return _form(request, p, entity, view, kind, ident, filters, search, request.url.query)


def _form(
    request: Request, p: Page, entity: Entity, view: View | None, kind: str, ident: str,
    filters: list[dict[str, Any]], search: str | None, query: str, problem: str | None = None, label: str = "",
) -> HTMLResponse:
    subject = p.app.permissions.subject(p.ctx)
    roles = sorted(p.app.registry.roles) if subject.unrestricted else sorted(subject.roles & set(p.app.registry.roles))
    title = p.t("segment.new_title")
    return render(
        request, "segments/new.html", p.user,
        crumbs=[Crumb(p.t("nav.home"), "/"), Crumb(p.t("segment.title"), "/segments"), Crumb(title)],
        page_title=title, title=title, entity=entity, view=view, kind=kind, ident=ident, query=query,
        filters=describe(p, entity, filters, search), has_filters=bool(filters or search), problem=problem,
        label=label, roles=[(r, label_text(p.app.registry.roles[r].label, p.lang)) for r in roles],
        back=f"/{kind}/{ident}" + (f"?{query}" if query else ""),
    )


def _list_target(p: Page, kind: str, ident: str) -> tuple[Entity, View | None]:
    if kind == "v":
        view = p.app.registry.view(ident[:100])
        return p.app.registry.entity(view.entity), view
    if kind == "r":
        entity = p.app.registry.entity(ident[:100])
        return entity, p.app.registry.default_view(entity.id)
    raise NotFound("unknown list")


@router.post("/segments/new/{kind}/{ident}")
async def save_segment(request: Request, kind: str, ident: str) -> Response:
    p = page(request)
    entity, view = _list_target(p, kind, ident)
    post = await request.form()
    query = str(post.get("query") or "")
    label = str(post.get("label") or "")
    role = str(post.get("shared_role") or "") or None
    filters: list[dict[str, Any]] = []
    search: str | None = None
    try:
        filters, search = filters_from_params(entity, [(k, v) for k, v in parse_qsl(query) if v != ""])
        segment = SegmentService(p.app).save(
            p.ctx, entity=entity.id, label=label, filters=filters, search=search,
            view=view.id if view is not None and view.type == "list" else None, shared_role=role,
        )
    except (BadRequest, Forbidden) as exc:
        return _form(request, p, entity, view, kind, ident, filters, search, query, exc.message, label)
    flash(request, "success", p.t("segment.saved", label=label_text(segment.label, p.lang)))
    return RedirectResponse(f"/segments/{segment.id}", status_code=303)


@router.get("/segments/{segment_id}")
def segment_page(request: Request, segment_id: str, cursor: str | None = None) -> Response:
    p = page(request)
    service = SegmentService(p.app)
    segment = service.get(segment_id[:100], p.ctx)
    entity = p.app.registry.entity(segment.entity)
    view = service.view_of(segment)
    columns = layout.visible_columns(layout.list_columns(entity, view), hidden_fields(p.app, p.ctx, entity))
    problem = None
    try:
        result = service.records(segment, p.ctx, limit=PAGE_SIZE, cursor=cursor or None)
        total = result.total if result.total is not None else service.records(segment, p.ctx, limit=1).total
    except BadRequest as exc:
        problem, result, total = exc.message, None, 0
    items = result.items if result else []
    lookups = Lookups(p.app, p.ctx).prime(columns, items)
    title_field = entity.title_field if any(c.name == entity.title_field for c in columns) else columns[0].name
    rows = [
        {
            "id": item["id"],
            "href": f"/r/{entity.id}/{item['id']}",
            "cells": [display(c, item.get(c.name), p.lang, p.app.registry, lookups) for c in columns],
        }
        for item in items
    ]
    header = [Column(c, c.label_in(p.lang), c.type in ("integer", "decimal", "money", "percent"), None, None)
              for c in columns]
    card = _card(p, segment, entity, total)
    return render(
        request, "segments/segment.html", p.user,
        crumbs=[Crumb(p.t("nav.home"), "/"), Crumb(p.t("segment.title"), "/segments"), Crumb(card["label"])],
        page_title=card["label"], title=card["label"], segment=card, entity=entity,
        columns=header, rows=rows, title_field=title_field, problem=problem, bulk_actions=[], sort_param="",
        total_text=p.t("segment.count", total=f"{total:,}") if total is not None else "",
        next_url=f"/segments/{segment.id}?cursor={result.next_cursor}" if result and result.next_cursor else None,
        first_url=f"/segments/{segment.id}" if cursor else None,
    )


@router.post("/segments/{segment_id}/delete")
def delete_segment(request: Request, segment_id: str) -> Response:
    p = page(request)
    try:
        SegmentService(p.app).delete(segment_id[:100], p.ctx)
    except Forbidden as exc:
        flash(request, "warning", exc.message)
        return RedirectResponse(f"/segments/{segment_id[:100]}", status_code=303)
    flash(request, "success", p.t("segment.deleted"))
    return RedirectResponse("/segments", status_code=303)
