"""A blueprint form outside a record: the task's form and a process's start form.

The same machinery as the record pages (ui.layout, ui.forms, ui.record_pages, the widget macros and
the live re-evaluation endpoint ``/r/{entity}/_form``), but the values come from and go to workflow
task data instead of a stored record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from runtime.blueprints.model import Entity, Form
from runtime.records.logic import apply_defaults
from runtime.validation.errors import FieldError
from ui import layout
from ui.forms import ParsedForm, friendly_errors, read_post, widget_values
from ui.layout import hidden_fields
from ui.lookups import Lookups
from ui.record_pages import ErrorItem, TabModel, build_form_tabs
from ui.routes.tasks_common import Page


@dataclass
class FormModel:
    """What form.html's body needs: tabs of widgets, the error summary and the live re-evaluation URL."""

    form: Form
    entity: Entity
    tabs: list[TabModel]
    summary: list[ErrorItem]
    evaluate_url: str
    active_tab: str
    field_names: frozenset[str]


def blueprint_form(p: Page, form_id: str | None) -> Form | None:
    if not form_id:
        return None
    return p.app.registry.forms.get(form_id)


def _tabs(p: Page, form: Form, entity: Entity) -> list[layout.TabSpec]:
    return layout.visible_tabs(layout.form_layout(entity, form, p.lang), hidden_fields(p.app, p.ctx, entity))


def initial_values(p: Page, form: Form, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(widget values, JSON values) of the form's fields from task data, defaults where the data has none."""
    entity = p.app.registry.entity(form.entity)
    names = set(form.field_names)
    known = {k: v for k, v in data.items() if k in names}
    values = {**apply_defaults(entity, {}, p.app.clock), **known}
    values = {k: v for k, v in values.items() if k in names}
    return widget_values(entity.fields, values), values


def build(p: Page, form: Form, values: dict[str, Any], data: dict[str, Any], errors: list[FieldError]) -> FormModel:
    entity = p.app.registry.entity(form.entity)
    tabs = _tabs(p, form, entity)
    state = p.app.records.form_state(
        entity.id, {k: v for k, v in data.items() if k in entity.field_names}, p.ctx, form_id=form.id
    )
    lookups = Lookups(p.app, p.ctx).prime(entity.fields, [data])
    models, summary = build_form_tabs(
        p.app, p.ctx, entity, tabs, values, state.states, state.computed, None, errors, lookups
    )
    active = next((m.key for m in models if m.error_count), models[0].key if models else "")
    return FormModel(
        form,
        entity,
        models,
        summary,
        f"/r/{entity.id}/_form?form={form.id}",
        active,
        frozenset(f.name for f in layout.layout_fields(tabs)),
    )


def read_submission(p: Page, form: Form, post: FormData) -> tuple[ParsedForm, dict[str, Any]]:
    """Parse the post; keep the fields the user could edit right now (visible, not read-only)."""
    entity = p.app.registry.entity(form.entity)
    fields = [f for f in layout.layout_fields(_tabs(p, form, entity)) if layout.editable(f)]
    parsed = read_post(fields, post, p.lang)
    state = p.app.records.form_state(entity.id, dict(parsed.data), p.ctx, form_id=form.id)
    payload = {
        name: value
        for name, value in parsed.data.items()
        if state.states[name].visible and not state.states[name].read_only
    }
    return parsed, payload


def check(p: Page, form: Form, payload: dict[str, Any]) -> list[FieldError]:
    """The records rules for the form's fields (what the host checks again when completing a task)."""
    entity = p.app.registry.entity(form.entity)
    names = set(form.field_names)
    found = p.app.registry.validator(entity.id).errors(payload, p.lang)
    return [e for e in friendly_errors(found, payload, p.lang) if e.field.split(".")[0] in names]
