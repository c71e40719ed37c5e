"""List, kanban and calendar pages of a view (and /r/{entity}, the entity's default list).

Query parameters use the API's syntax (``field=value``, ``field__op=value``, ``sort=-a``,
``cursor``, ``q``, ``limit``) and are parsed by the runtime, so a list URL can be shared or
bookmarked and means the same thing in the API. htmx requests from the filter bar, column
headers and pager receive only the results block; the URL is pushed so Back works.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from runtime.api.deps import tessera as get_tessera
from runtime.automation.states.bulk import bulk_allowed
from runtime.blueprints.model import Entity, Field, View, label_text
from runtime.clock import utc_to_local
from runtime.errors import BadRequest
from runtime.fields.storage import is_encrypted
from runtime.fields.types import field_type
from runtime.identity.users import User
from runtime.records import Context, ListQuery, Page
from runtime.records.query import Filter, parse_filter, parse_query_params
from runtime.records.titles import record_titles
from runtime.services import Tessera
from ui import layout
from ui.formatting import css_color, display, month_label, parse_iso_datetime
from ui.i18n import t
from ui.layout import hidden_fields
from ui.lookups import Lookups
from ui.session import is_htmx, require_user, ui_context
from ui.templating import Crumb, render, render_fragment
from ui.widgets import Choice, WidgetFactory

router = APIRouter()
UI_ONLY_PARAMS = frozenset({"lang", "month", "form"})
KANBAN_LIMIT = 30
LANE_COLORS = ("#2f6fde", "#0f8b8d", "#d9822b", "#7e57c2", "#c2185b", "#2e7d4f", "#3f51b5", "#8d6e63")
"""Lane accents for options without a colour of their own, so neighbouring columns stay distinguishable."""
CALENDAR_LIMIT = 200


@dataclass
class Column:
    field: Field
    label: str
    numeric: bool
    sort_url: str | None
    sort_dir: str | None


@dataclass
class QuickFilter:
    name: str
    label: str
    kind: str
    value: str
    choices: list[Choice] = field(default_factory=list)
    value_to: str = ""
    """daterange: the upper bound (the field's __lte parameter; value is __gte)."""


def _params(request: Request) -> list[tuple[str, str]]:
    """The query parameters that mean something to the list (empty filter boxes are ignored)."""
    return [(k, v) for k, v in request.query_params.multi_items() if v != "" and k not in UI_ONLY_PARAMS]


def _url(base: str, params: list[tuple[str, str]], drop: tuple[str, ...] = (), **changes: str | None) -> str:
    kept = [(k, v) for k, v in params if k not in drop and k not in changes]
    kept += [(k, v) for k, v in changes.items() if v is not None]
    return base + ("?" + urlencode(kept) if kept else "")


def view_filters(entity: Entity, view: View | None) -> list[Filter]:
    """The view's fixed filters (e.g. "only open leads"), parsed like query parameters."""
    out = []
    for spec in view.opt("filters", []) if view else []:
        value = spec.get("value")
        if isinstance(value, list):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = "" if value is None else str(value)
        out.append(parse_filter(entity, spec["field"], spec["op"], text))
    return out


def _view_sort(view: View | None) -> str | None:
    specs = view.opt("sort", []) if view else []
    return ",".join(("-" if s.get("desc") else "") + s["field"] for s in specs) or None


def build_query(
    entity: Entity, view: View | None, params: list[tuple[str, str]], *, limit: int | None = None
) -> ListQuery:
    effective = list(params)
    keys = {k for k, _ in params}
    if "sort" not in keys and _view_sort(view):
        effective.append(("sort", _view_sort(view) or ""))
    if "limit" not in keys:
        effective.append(("limit", str(limit or (view.opt("page_size", 25) if view else 25))))
    query = parse_query_params(entity, effective)
    query.search_fields = list(view.opt("search_fields", [])) if view else []
    query.filters = [*view_filters(entity, view), *query.filters]
    return query


def _view_crumbs(lang: str, entity: Entity, view: View | None) -> list[Crumb]:
    crumbs = [Crumb(t(lang, "nav.home"), "/"), Crumb(entity.label_in(lang))]
    if view is not None and view.opt("label"):
        crumbs.append(Crumb(label_text(view.opt("label"), lang)))
    return crumbs


def _sibling_views(tessera: Tessera, entity: Entity, lang: str, current: View | None) -> list[dict[str, Any]]:
    """Other views of the same entity (list / board / calendar) as switcher tabs."""
    order = {"list": 0, "kanban": 1, "calendar": 2}
    views = sorted(
        (v for v in tessera.registry.views.values() if v.entity == entity.id),
        key=lambda v: order.get(v.type, 3),
    )
    if len(views) < 2:
        return []
    icons = {"list": "bi-list-ul", "kanban": "bi-kanban", "calendar": "bi-calendar3"}
    return [
        {
            "href": f"/v/{v.id}",
            "label": label_text(v.opt("label"), lang) or t(lang, f"view.{v.type}"),
            "icon": icons.get(v.type, "bi-list-ul"),
            "active": current is not None and v.id == current.id,
        }
        for v in views
    ]


@router.get("/v/{view_id}")
def view_page(view_id: str, request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    view = app.registry.view(view_id)
    entity = app.registry.entity(view.entity)
    if view.type == "kanban":
        return kanban_page(request, user, app, entity, view)
    if view.type == "calendar":
        return calendar_page(request, user, app, entity, view)
    return list_page(request, user, app, entity, view, f"/v/{view.id}")


@router.get("/r/{entity_id}")
def entity_list(entity_id: str, request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    entity = app.registry.entity(entity_id)
    return list_page(request, user, app, entity, app.registry.default_view(entity.id), f"/r/{entity.id}")


# list -------------------------------------------------------------------------------------------
def list_page(request: Request, user: User, app: Tessera, entity: Entity, view: View | None, base: str) -> HTMLResponse:
    ctx = ui_context(request, user)
    lang = ctx.lang
    params = _params(request)
    columns = layout.visible_columns(layout.list_columns(entity, view), hidden_fields(app, ctx, entity))
    problem = None
    try:
        query = build_query(entity, view, params)
        page = app.records.list(entity.id, query, ctx)
        if page.total is None:  # later pages: count once more without the cursor (capped, cheap)
            first = app.records.list(entity.id, replace(query, cursor=None, limit=1), ctx)
            page.total, page.total_is_exact = first.total, first.total_is_exact
    except BadRequest as exc:
        problem = t(lang, "list.bad_query", message=exc.message)
        query = ListQuery()
        page = Page([], None, 0, True, 25)
    lookups = Lookups(app, ctx).prime(columns, page.items)
    title_field = entity.title_field if any(c.name == entity.title_field for c in columns) else columns[0].name
    rows = [
        {
            "id": item["id"],
            "href": f"/r/{entity.id}/{item['id']}",
            "cells": [display(c, item.get(c.name), lang, app.registry, lookups) for c in columns],
        }
        for item in page.items
    ]
    sort = dict(query.sort[:1])
    header = [
        Column(
            c,
            c.label_in(lang),
            c.type in ("integer", "decimal", "money", "percent"),
            _url(base, params, ("cursor",), sort=("-" if sort.get(c.name) is False else "") + c.name)
            if _sortable(c)
            else None,
            ("desc" if sort[c.name] else "asc") if c.name in sort else None,
        )
        for c in columns
    ]
    context = {
        "entity": entity,
        "view": view,
        "base": base,
        "columns": header,
        "rows": rows,
        "title_field": title_field,
        "page": page,
        "problem": problem,
        "next_url": _url(base, params, (), cursor=page.next_cursor) if page.next_cursor else None,
        "first_url": _url(base, params, ("cursor",)) if any(k == "cursor" for k, _ in params) else None,
        "total_text": _total_text(lang, page),
        "sort_param": dict(params).get("sort", ""),
        "bulk_actions": [
            {"id": a["id"], "label": label_text(a["label"], lang), "style": a.get("style", "secondary")}
            for a in bulk_allowed(app, entity.id, ctx)
        ],
    }
    if is_htmx(request) and request.headers.get("HX-Target") == "list-results":
        return HTMLResponse(render_fragment(request, "partials/list_results.html", user, **context))
    search_fields = [entity.field(n) for n in (view.opt("search_fields", []) if view else [])] or [
        entity.field(entity.title_field)
    ]
    levels = app.permissions.field_levels(ctx, entity)  # only what the search really looks at (check_query)
    search_fields = [f for f in search_fields if f is not None and levels.get(f.name) == "full"]
    form_id = (view.opt("form") if view else None) or ""
    title = label_text(view.opt("label"), lang) if view and view.opt("label") else entity.label_in(lang)
    return render(
        request,
        "list.html",
        user,
        active_view=view.id if view else None,
        active_entity=entity.id,
        crumbs=_view_crumbs(lang, entity, view),
        page_title=title,
        title=title,
        quick_filters=_quick_filters(app, ctx, entity, view, params),
        q=request.query_params.get("q", ""),
        search_placeholder=t(
            lang,
            "list.search_placeholder",
            fields=t(lang, "list.joiner").join(f.label_in(lang) for f in search_fields if f is not None),
        ),
        new_url=f"/r/{entity.id}/new" + (f"?form={form_id}" if form_id else ""),
        views=_sibling_views(app, entity, lang, view),
        can_create=app.permissions.can(ctx, entity, "create"),
        can_import=app.permissions.can(ctx, entity, "import"),
        can_export=app.permissions.can(ctx, entity, "export"),
        can_print=app.permissions.can(ctx, entity, "print"),
        **context,
    )


def _sortable(f: Field) -> bool:
    """Encrypted fields cannot be ordered by the database (only exact-match search works)."""
    return f.type != "child_table" and field_type(f).sortable and not is_encrypted(f)


def _total_text(lang: str, page: Page) -> str:
    if page.total is None:
        return ""
    if page.total_is_exact:
        return t(lang, "list.total", total=f"{page.total:,}")
    return t(lang, "list.total_capped", total=f"{page.total:,}")


def _quick_filters(
    app: Tessera, ctx: Context, entity: Entity, view: View | None, params: list[tuple[str, str]]
) -> list[QuickFilter]:
    """Dropdowns for option, yes/no, user and department fields; a text box for the rest."""
    lang = ctx.lang
    current = dict(params)
    factory = WidgetFactory(app, Lookups(app, ctx), lang)
    out = []
    for name in view.opt("quick_filters", []) if view else []:
        f = entity.field(name)
        if f is None:
            continue
        label = f.label_in(lang)
        if f.type == "boolean":
            out.append(QuickFilter(name, label, "boolean", current.get(name, "")))
        elif f.type == "select":
            out.append(
                QuickFilter(
                    name,
                    label,
                    "select",
                    current.get(name, ""),
                    factory.option_choices(f.opt("option_set"), None),
                )
            )
        elif f.type == "user":
            out.append(QuickFilter(name, label, "select", current.get(name, ""), factory.user_choices()))
        elif f.type == "department":
            out.append(QuickFilter(name, label, "select", current.get(name, ""), factory.department_choices()))
        elif f.type in ("multiselect", "tags"):
            key = f"{name}__contains"
            choices = factory.option_choices(f.opt("option_set"), None) if f.type == "multiselect" else []
            out.append(QuickFilter(key, label, "select" if choices else "text", current.get(key, ""), choices))
        elif f.type in ("date", "datetime"):  # a from-to range of days
            start, end = f"{name}__gte", f"{name}__lte"
            out.append(QuickFilter(name, label, "daterange", current.get(start, ""), value_to=current.get(end, "")))
        elif "contains" in field_type(f).filter_ops:
            key = f"{name}__contains"
            out.append(QuickFilter(key, label, "text", current.get(key, "")))
        else:
            out.append(QuickFilter(name, label, "text", current.get(name, "")))
    return out


# kanban -----------------------------------------------------------------------------------------
def kanban_page(request: Request, user: User, app: Tessera, entity: Entity, view: View) -> HTMLResponse:
    """One column per option of the group-by field, newest cards first, with a count per column."""
    ctx = ui_context(request, user)
    lang = ctx.lang
    group = entity.field(view.opt("group_by"))
    if group is None:
        raise BadRequest(f"the view '{view.id}' groups by an unknown field")
    params = [(k, v) for k, v in _params(request) if k in ("q",)]
    base_query = build_query(entity, view, params, limit=KANBAN_LIMIT)
    oset = app.registry.option_sets.get(group.opt("option_set") or "")
    lanes: list[dict[str, Any]] = []
    options = [(o.value, label_text(o.label, lang), o.color) for o, _ in oset.flat() if o.active] if oset else []
    columns = [
        c
        for c in layout.visible_columns(layout.list_columns(entity, view), hidden_fields(app, ctx, entity))
        if c.name not in (entity.title_field, group.name)
    ]
    lookups = Lookups(app, ctx)
    for index, (value, label, color) in enumerate([*options, (None, t(lang, "kanban.unset"), None)]):
        flt = Filter(group.name, "eq", value) if value is not None else Filter(group.name, "empty", True)
        page = app.records.list(entity.id, replace(base_query, filters=[*base_query.filters, flt]), ctx)
        if value is None and not page.items:
            continue
        lookups.prime(columns, page.items)
        titles = record_titles(app, entity, page.items, ctx)
        cards = [
            {
                "id": item["id"],
                "version": item["version"],
                "href": f"/r/{entity.id}/{item['id']}",
                "title": titles[item["id"]],
                "cells": [
                    (c.label_in(lang), display(c, item.get(c.name), lang, app.registry, lookups)) for c in columns
                ],
            }
            for item in page.items
        ]
        more = (page.total or 0) - len(cards) if page.total is not None else 0
        accent = css_color(color) or (LANE_COLORS[index % len(LANE_COLORS)] if value is not None else None)
        lanes.append(
            {
                "value": value or "",
                "label": label,
                "color": accent,
                "cards": cards,
                "total": page.total,
                "exact": page.total_is_exact,
                "more": max(more, 0),
            }
        )
    title = label_text(view.opt("label"), lang) or entity.label_in(lang)
    return render(
        request,
        "kanban.html",
        user,
        active_view=view.id,
        active_entity=entity.id,
        crumbs=_view_crumbs(lang, entity, view),
        page_title=title,
        title=title,
        entity=entity,
        view=view,
        lanes=lanes,
        q=request.query_params.get("q", ""),
        group=group,
        new_url=f"/r/{entity.id}/new" + (f"?form={view.opt('form')}" if view.opt("form") else ""),
        views=_sibling_views(app, entity, lang, view),
        move_url=f"/v/{view.id}/move",
    )


# calendar ---------------------------------------------------------------------------------------
def _month(request: Request, today: date) -> date:
    raw = request.query_params.get("month", "")
    try:
        year, month = (int(p) for p in raw.split("-"))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


def calendar_page(request: Request, user: User, app: Tessera, entity: Entity, view: View) -> HTMLResponse:
    """A month grid (Monday first) with each record on its day; phones get a day-by-day agenda."""
    ctx = ui_context(request, user)
    lang = ctx.lang
    date_field = entity.field(view.opt("date_field"))
    if date_field is None:
        raise BadRequest(f"the view '{view.id}' uses an unknown date field")
    today = utc_to_local_date(app)
    first = _month(request, today)
    days_in_month = calendar.monthrange(first.year, first.month)[1]
    start = first - timedelta(days=first.weekday())
    last = first.replace(day=days_in_month)
    end = last + timedelta(days=6 - last.weekday())
    is_datetime = date_field.type == "datetime" or date_field.opt("result_type") == "datetime"
    low, high = (start - timedelta(days=1), end + timedelta(days=1)) if is_datetime else (start, end)
    bounds = f"{low.isoformat()}T00:00:00,{high.isoformat()}T23:59:59" if is_datetime else f"{low},{high}"
    params = [(k, v) for k, v in _params(request) if k == "q"]
    query = build_query(entity, view, params, limit=CALENDAR_LIMIT)
    query.filters.append(parse_filter(entity, date_field.name, "between", bounds))
    query.sort = [(date_field.name, False)]
    page = app.records.list(entity.id, query, ctx)
    columns = [
        c
        for c in layout.visible_columns(layout.list_columns(entity, view), hidden_fields(app, ctx, entity))
        if c.name not in (entity.title_field, date_field.name)
    ]
    lookups = Lookups(app, ctx).prime(columns, page.items)
    titles = record_titles(app, entity, page.items, ctx)
    by_day: dict[date, list[dict[str, Any]]] = {}
    for item in page.items:
        day, time_text = _day_of(item.get(date_field.name), is_datetime)
        if day is None or not start <= day <= end:
            continue
        badge = next(
            (
                display(c, item.get(c.name), lang, app.registry, lookups)
                for c in columns
                if c.type == "select" and item.get(c.name)
            ),
            None,
        )
        by_day.setdefault(day, []).append(
            {
                "href": f"/r/{entity.id}/{item['id']}",
                "title": titles[item["id"]],
                "time": time_text,
                "badge": badge,
            }
        )
    weeks = []
    for week in range((end - start).days // 7 + 1):
        days = [start + timedelta(days=week * 7 + i) for i in range(7)]
        weeks.append(
            [
                {
                    "date": d,
                    "in_month": d.month == first.month,
                    "today": d == today,
                    "entries": by_day.get(d, []),
                }
                for d in days
            ]
        )
    prev_month = (first - timedelta(days=1)).replace(day=1)
    next_month = last + timedelta(days=1)
    title = label_text(view.opt("label"), lang) or entity.label_in(lang)
    agenda = [(d, by_day[d]) for d in sorted(by_day) if d.month == first.month]
    return render(
        request,
        "calendar.html",
        user,
        active_view=view.id,
        active_entity=entity.id,
        crumbs=_view_crumbs(lang, entity, view),
        page_title=title,
        title=title,
        entity=entity,
        view=view,
        weeks=weeks,
        agenda=agenda,
        month_title=month_label(first, lang),
        weekdays=t(lang, "calendar.weekdays").split(","),
        prev_url=f"/v/{view.id}?month={prev_month:%Y-%m}",
        next_url=f"/v/{view.id}?month={next_month:%Y-%m}",
        this_url=f"/v/{view.id}",
        truncated=page.next_cursor is not None,
        limit=CALENDAR_LIMIT,
        new_url=f"/r/{entity.id}/new" + (f"?form={view.opt('form')}" if view.opt("form") else ""),
        views=_sibling_views(app, entity, lang, view),
        q=request.query_params.get("q", ""),
        today=today,
    )


def utc_to_local_date(app: Tessera) -> date:
    return utc_to_local(app.clock.now()).date()


def _day_of(value: Any, is_datetime: bool) -> tuple[date | None, str]:
    if not isinstance(value, str):
        return None, ""
    if is_datetime:
        parsed = parse_iso_datetime(value)
        if parsed is None:
            return None, ""
        local = utc_to_local(parsed)
        return local.date(), local.strftime("%H:%M")
    try:
        return date.fromisoformat(value[:10]), ""
    except ValueError:
        return None, ""
