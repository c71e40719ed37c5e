"""One record: detail, create, edit, delete, and the live form re-evaluation endpoint.

Every read and write goes through the records service (validation, permissions, audit, rules).
A failed save shows the form again with the user's input and an error next to each field; a
save over someone else's newer change is refused with a clear message and the input kept.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from runtime.api.deps import optional_user
from runtime.api.deps import record_id as parse_record_id
from runtime.api.deps import tessera as get_tessera
from runtime.blueprints.model import Entity, Form
from runtime.errors import Conflict, RecordInvalid, StaleVersion
from runtime.identity.users import User
from runtime.records import Context
from runtime.records.logic import apply_defaults, is_empty
from runtime.records.query import Filter, ListQuery
from runtime.records.titles import record_title, record_titles
from runtime.services import Tessera
from runtime.validation.errors import FieldError
from ui import layout
from ui.formatting import display, system_value
from ui.forms import ParsedForm, friendly_errors, read_post, read_value, widget_values
from ui.i18n import t
from ui.layout import hidden_fields
from ui.lookups import Lookups
from ui.record_pages import build_detail_tabs, build_form_tabs, computed_json
from ui.session import flash, require_user, ui_context
from ui.templating import Crumb, render, render_fragment

router = APIRouter()
RELATED_LIMIT = 10


def list_url(tessera: Tessera, entity: Entity) -> str:
    view = tessera.registry.default_view(entity.id)
    return f"/v/{view.id}" if view else f"/r/{entity.id}"


def _crumbs(tessera: Tessera, entity: Entity, lang: str, *tail: Crumb) -> list[Crumb]:
    return [Crumb(t(lang, "nav.home"), "/"), Crumb(entity.label_in(lang), list_url(tessera, entity)), *tail]


def _form_query(form: Form | None) -> str:
    return f"?form={form.id}" if form else ""


# create -----------------------------------------------------------------------------------------
@router.get("/r/{entity_id}/new")
def new_record(entity_id: str, request: Request) -> Response:
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    entity = app.registry.entity(entity_id)
    form = layout.resolve_form(app.registry, entity, request.query_params.get("form"))
    values = apply_defaults(entity, {}, app.clock)
    for f in entity.fields:  # "new contact for this hospital": ?hospital=5 pre-fills the reference
        if layout.editable(f) and f.name in request.query_params and f.type != "child_table":
            value, _, error = read_value(f, request.query_params.getlist(f.name), ctx.lang)
            if error is None and value is not None:
                values[f.name] = value
    return _form_page(request, user, app, ctx, entity, form, widget_values(entity.fields, values), values, None, [])


@router.post("/r/{entity_id}/new")
async def create_record(entity_id: str, request: Request) -> Response:
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    entity = app.registry.entity(entity_id)
    form = layout.resolve_form(app.registry, entity, request.query_params.get("form"))
    parsed, payload, states = _read_submission(app, ctx, entity, form, await request.form(), None)
    if parsed.errors:
        errors = _preview_errors(app, ctx, entity, parsed, payload, states, None)
    else:
        try:
            record = app.records.create(entity.id, payload, ctx, form_id=form.id if form else None)
        except RecordInvalid as exc:
            errors = friendly_errors(exc.errors, payload, ctx.lang)
        else:
            flash(request, "success", t(ctx.lang, "form.created", title=record_title(app, entity, record, ctx)))
            return RedirectResponse(f"/r/{entity.id}/{record['id']}", status_code=303)
    values = {**widget_values(entity.fields, apply_defaults(entity, {}, app.clock)), **parsed.raw}
    return _form_page(request, user, app, ctx, entity, form, values, parsed.data, None, errors, status=422)


# edit -------------------------------------------------------------------------------------------
@router.get("/r/{entity_id}/{rid}/edit")
def edit_record(entity_id: str, rid: str, request: Request) -> Response:
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    entity = app.registry.entity(entity_id)
    record = app.records.get(entity.id, parse_record_id(rid), ctx)
    form = layout.resolve_form(app.registry, entity, request.query_params.get("form"))
    return _form_page(request, user, app, ctx, entity, form, widget_values(entity.fields, record), record, record, [])


@router.post("/r/{entity_id}/{rid}/edit")
async def update_record(entity_id: str, rid: str, request: Request) -> Response:
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    entity = app.registry.entity(entity_id)
    ident = parse_record_id(rid)
    record = app.records.get(entity.id, ident, ctx)
    form = layout.resolve_form(app.registry, entity, request.query_params.get("form"))
    post = await request.form()
    version = _posted_version(post)
    parsed, payload, states = _read_submission(app, ctx, entity, form, post, record)
    stale: int | None = None
    errors: list[FieldError] = []
    if parsed.errors:
        errors = _preview_errors(app, ctx, entity, parsed, payload, states, record)
    else:
        try:
            saved = app.records.update(
                entity.id, ident, payload, ctx, expected_version=version, form_id=form.id if form else None
            )
        except StaleVersion as exc:
            stale = exc.current_version
        except RecordInvalid as exc:
            errors = friendly_errors(exc.errors, payload, ctx.lang)
        else:
            flash(request, "success", t(ctx.lang, "form.saved", title=record_title(app, entity, saved, ctx)))
            return RedirectResponse(f"/r/{entity.id}/{ident}", status_code=303)
    values = {**widget_values(entity.fields, record), **parsed.raw}
    shown = {**record, "version": version or record["version"]}
    return _form_page(
        request,
        user,
        app,
        ctx,
        entity,
        form,
        values,
        {**record, **parsed.data},
        shown,
        errors,
        status=409 if stale else 422,
        stale_version=stale,
    )


def _posted_version(post: FormData) -> int | None:
    raw = post.get("version")
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


def _read_submission(
    app: Tessera,
    ctx: Context,
    entity: Entity,
    form: Form | None,
    post: FormData,
    record: dict[str, Any] | None,
) -> tuple[ParsedForm, dict[str, Any], dict[str, Any]]:
    """Parse the post; keep only fields the user could edit (visible and not read-only right now)."""
    tabs = layout.visible_tabs(layout.form_layout(entity, form, ctx.lang), hidden_fields(app, ctx, entity))
    fields = [f for f in layout.layout_fields(tabs) if layout.editable(f)]
    parsed = read_post(fields, post, ctx.lang)
    base = _editable_values(entity, record) if record else {}
    state = app.records.form_state(entity.id, {**base, **parsed.data}, ctx, form_id=form.id if form else None)
    payload = {
        name: value
        for name, value in parsed.data.items()
        if state.states[name].visible and not state.states[name].read_only
    }
    return parsed, payload, state.states


def _editable_values(entity: Entity, record: dict[str, Any]) -> dict[str, Any]:
    return {f.name: record.get(f.name) for f in entity.fields if not f.is_system_filled}


def _preview_errors(
    app: Tessera,
    ctx: Context,
    entity: Entity,
    parsed: ParsedForm,
    payload: dict[str, Any],
    states: dict[str, Any],
    record: dict[str, Any] | None,
) -> list[FieldError]:
    """All problems at once when some input could not even be read (nothing is saved).

    The records service cannot be asked to save a value that is not a value, so the readable
    fields are checked against the entity's schema and the required states instead, and the
    unreadable ones keep their own message.
    """
    bad = {e.field for e in parsed.errors}
    bad_top = {key.split(".")[0] for key in bad}
    readable = {k: v for k, v in payload.items() if k not in bad_top}
    candidate = (
        {**_editable_values(entity, record), **readable} if record else apply_defaults(entity, readable, app.clock)
    )
    errors = list(parsed.errors)
    for e in friendly_errors(app.registry.validator(entity.id).errors(candidate, ctx.lang), candidate, ctx.lang):
        if e.field.split(".")[0] not in bad_top:
            errors.append(e)
    seen = {e.field for e in errors}
    for name, state in states.items():
        if state.required and name not in seen and name not in bad_top and is_empty(candidate.get(name)):
            errors.append(FieldError(name, t(ctx.lang, "error.required"), "required"))
    return errors


def _form_page(
    request: Request,
    user: User,
    app: Tessera,
    ctx: Context,
    entity: Entity,
    form: Form | None,
    values: dict[str, Any],
    data: dict[str, Any],
    record: dict[str, Any] | None,
    errors: list[FieldError],
    *,
    status: int = 200,
    stale_version: int | None = None,
) -> HTMLResponse:
    lang = ctx.lang
    tabs = layout.visible_tabs(layout.form_layout(entity, form, lang), hidden_fields(app, ctx, entity))
    state = app.records.form_state(
        entity.id,
        {k: v for k, v in data.items() if k in entity.field_names},
        ctx,
        form_id=form.id if form else None,
    )
    lookups = Lookups(app, ctx).prime(entity.fields, [data])
    tab_models, summary = build_form_tabs(
        app, ctx, entity, tabs, values, state.states, state.computed, record, errors, lookups
    )
    is_edit = record is not None and "id" in record
    if is_edit:
        assert record is not None
        title = t(lang, "form.edit_title", entity=entity.label_in(lang))
        action = f"/r/{entity.id}/{record['id']}/edit{_form_query(form)}"
        cancel = f"/r/{entity.id}/{record['id']}"
        crumbs = _crumbs(
            app, entity, lang, Crumb(record_title(app, entity, record, ctx), cancel), Crumb(t(lang, "detail.edit"))
        )
    else:
        title = t(lang, "form.new_title", entity=entity.label_in(lang))
        action = f"/r/{entity.id}/new{_form_query(form)}"
        cancel = list_url(app, entity)
        crumbs = _crumbs(app, entity, lang, Crumb(t(lang, "list.new")))
    return render(
        request,
        "form.html",
        user,
        status=status,
        active_entity=entity.id,
        crumbs=crumbs,
        page_title=title,
        heading=title,
        entity=entity,
        form=form,
        tabs=tab_models,
        summary=summary,
        action=action,
        evaluate_url=f"/r/{entity.id}/_form{_form_query(form)}",
        cancel_url=cancel,
        record=record if is_edit else None,
        stale_version=stale_version,
        active_tab=next((m.key for m in tab_models if m.error_count), tab_models[0].key if tab_models else ""),
    )


# live re-evaluation -----------------------------------------------------------------------------
@router.post("/r/{entity_id}/_form")
async def evaluate_form(entity_id: str, request: Request) -> Response:
    """What the form looks like for the values typed so far: states and computed values as OOB swaps.

    Only small parts are replaced (a state list read by tessera.js and the computed value boxes),
    never an input, so the field being typed in keeps its focus and caret.
    """
    user = optional_user(request)
    if user is None:  # the session ran out mid-typing: stay on the page, the save will ask to sign in
        return Response(status_code=204)
    app, ctx = get_tessera(request), ui_context(request, user)
    entity = app.registry.entity(entity_id)
    form = layout.resolve_form(app.registry, entity, request.query_params.get("form"))
    tabs = layout.visible_tabs(layout.form_layout(entity, form, ctx.lang), hidden_fields(app, ctx, entity))
    fields = layout.layout_fields(tabs)
    post = await request.form()
    parsed = read_post([f for f in fields if layout.editable(f)], post, ctx.lang)
    base: dict[str, Any] = {}
    raw_id = post.get("_record")
    if isinstance(raw_id, str) and raw_id:
        base = _editable_values(entity, app.records.get(entity.id, parse_record_id(raw_id), ctx))
    state = app.records.form_state(entity.id, {**base, **parsed.data}, ctx, form_id=form.id if form else None)
    lookups = Lookups(app, ctx)
    shown = computed_json(entity, state.computed)
    computed_cells = {
        f.name: display(f, shown.get(f.name), ctx.lang, app.registry, lookups) for f in fields if f.type == "computed"
    }
    html = render_fragment(
        request, "partials/form_state.html", user, fields=fields, states=state.states, computed=computed_cells
    )
    return HTMLResponse(html)


# detail and delete ------------------------------------------------------------------------------
@router.get("/r/{entity_id}/{rid}")
def record_detail(entity_id: str, rid: str, request: Request) -> Response:
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    entity = app.registry.entity(entity_id)
    record = app.records.get(entity.id, parse_record_id(rid), ctx)
    return _detail_page(request, user, app, ctx, entity, record)


@router.post("/r/{entity_id}/{rid}/delete")
async def delete_record(entity_id: str, rid: str, request: Request) -> Response:
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    entity = app.registry.entity(entity_id)
    ident = parse_record_id(rid)
    record = app.records.get(entity.id, ident, ctx)
    version = _posted_version(await request.form())
    try:
        app.records.delete(entity.id, ident, ctx, expected_version=version)
    except StaleVersion:
        fresh = app.records.get(entity.id, ident, ctx)
        return _detail_page(
            request, user, app, ctx, entity, fresh, status=409, problem=t(ctx.lang, "detail.stale_delete")
        )
    except Conflict as exc:
        return _detail_page(
            request,
            user,
            app,
            ctx,
            entity,
            record,
            status=409,
            problem=t(ctx.lang, "detail.delete_refused", reason=exc.message),
        )
    flash(request, "success", t(ctx.lang, "detail.deleted", title=record_title(app, entity, record, ctx)))
    return RedirectResponse(list_url(app, entity), status_code=303)


def _detail_page(
    request: Request,
    user: User,
    app: Tessera,
    ctx: Context,
    entity: Entity,
    record: dict[str, Any],
    *,
    status: int = 200,
    problem: str | None = None,
) -> HTMLResponse:
    lang = ctx.lang
    form = layout.resolve_form(app.registry, entity, request.query_params.get("form"))
    tabs = layout.visible_tabs(layout.form_layout(entity, form, lang), hidden_fields(app, ctx, entity))
    state = app.records.form_state(entity.id, _editable_values(entity, record), ctx, form_id=form.id if form else None)
    lookups = Lookups(app, ctx).prime(entity.fields, [record])
    title = record_title(app, entity, record, ctx)
    stamps = {
        k: system_value(k, record.get(k), lookups)
        for k in ("created_at", "created_by", "updated_at", "updated_by", "owner_id")
    }
    return render(
        request,
        "detail.html",
        user,
        status=status,
        active_entity=entity.id,
        crumbs=_crumbs(app, entity, lang, Crumb(title)),
        page_title=title,
        title=title,
        entity=entity,
        record=record,
        tabs=build_detail_tabs(app, ctx, entity, tabs, record, state.states, lookups),
        stamps=stamps,
        problem=problem,
        edit_url=f"/r/{entity.id}/{record['id']}/edit{_form_query(form)}",
        back_url=list_url(app, entity),
        related=_related(app, ctx, entity, record, lookups),
        can_print=app.permissions.can(ctx, entity, "print"),
    )


def _related(
    app: Tessera, ctx: Context, entity: Entity, record: dict[str, Any], lookups: Lookups
) -> list[dict[str, Any]]:
    """Records of other entities that point at this one (a hospital's contacts, visits, ...); entities the user
    may not read are left out rather than refusing the whole page (a nurse's view of a patient)."""
    out = []
    for other, field_name in app.registry.referencing_fields(entity.id):
        if not app.permissions.can(ctx, other, "read"):
            continue
        query = ListQuery(filters=[Filter(field_name, "eq", record["id"])], limit=RELATED_LIMIT, count="auto")
        page = app.records.list(other.id, query, ctx)
        columns = layout.list_columns(other, app.registry.default_view(other.id))
        columns = layout.visible_columns(columns, hidden_fields(app, ctx, other))[:4]
        lookups.prime(columns, page.items)
        titles = record_titles(app, other, page.items, ctx)
        rows = [
            {
                "href": f"/r/{other.id}/{item['id']}",
                "title": titles[item["id"]],
                "cells": [
                    display(c, item.get(c.name), ctx.lang, app.registry, lookups)
                    for c in columns
                    if c.name != other.title_field
                ],
            }
            for item in page.items
        ]
        field_label = other.field(field_name).label_in(ctx.lang) if other.field(field_name) else field_name
        out.append(
            {
                "entity_id": other.id,
                "label": other.label_in(ctx.lang),
                "via": field_label,
                "rows": rows,
                "total": page.total,
                "exact": page.total_is_exact,
                "columns": [c.label_in(ctx.lang) for c in columns if c.name != other.title_field],
                "new_url": f"/r/{other.id}/new?{field_name}={record['id']}",
                "all_url": f"/r/{other.id}?{field_name}={record['id']}",
            }
        )
    return out
