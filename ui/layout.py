"""Which fields a form or detail page shows, in which tabs, sections and columns.

A blueprint form gives tabs > sections > fields with a column count; an entity without a form
still gets a usable page: every field in one two-column section (the fallback the builder
starts from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.blueprints.model import Entity, Field, Form, View, label_text
from runtime.errors import NotFound
from runtime.registry import Registry


@dataclass
class SectionSpec:
    label: str
    columns: int
    fields: list[Field]


@dataclass
class TabSpec:
    key: str
    label: str
    sections: list[SectionSpec]


def resolve_form(
    registry: Registry, entity: Entity, form_id: str | None, view: View | None = None
) -> Form | None:
    """`?form=` first, then the view's form, then the entity's first form; None means the fallback layout."""
    wanted = form_id or (view.opt("form") if view else None)
    if wanted:
        form = registry.forms.get(wanted)
        if form is None or form.entity != entity.id:
            raise NotFound(f"the form '{wanted}' does not belong to '{entity.id}'")
        return form
    return registry.default_form(entity.id)


def form_layout(entity: Entity, form: Form | None, lang: str) -> list[TabSpec]:
    if form is None:
        return [TabSpec("tab-0", label_text(entity.label, lang), [SectionSpec("", 2, list(entity.fields))])]
    tabs = []
    for i, tab in enumerate(form.tabs):
        sections = []
        for section in tab.sections:
            fields = [f for f in (entity.field(n) for n in section.fields) if f is not None]
            if fields:
                sections.append(
                    SectionSpec(label_text(section.label, lang), max(1, min(section.columns, 4)), fields)
                )
        tabs.append(TabSpec(f"tab-{i}", label_text(tab.label, lang), sections))
    return tabs


def layout_fields(tabs: list[TabSpec]) -> list[Field]:
    return [f for tab in tabs for section in tab.sections for f in section.fields]


def editable(f: Field) -> bool:
    """People type into these; computed, auto-numbered and read-only fields are shown, never posted."""
    return not (f.is_system_filled or f.read_only)


def list_columns(entity: Entity, view: View | None) -> list[Field]:
    """A view's columns, or every scalar field when the entity has no list view."""
    if view is not None and view.opt("columns"):
        return [f for f in (entity.field(n) for n in view.opt("columns")) if f is not None]
    skip = {"child_table", "json", "long_text", "file", "image"}
    return [f for f in entity.fields if f.type not in skip] or entity.fields[:1]


def visible_columns(columns: list[Field], hidden: frozenset[str]) -> list[Field]:
    """Columns without the fields the user may not see at all (not even their label)."""
    return [f for f in columns if f.name not in hidden] if hidden else columns


def visible_tabs(tabs: list[TabSpec], hidden: frozenset[str]) -> list[TabSpec]:
    """A form or detail layout without hidden fields; sections left empty are dropped."""
    if not hidden:
        return tabs
    out = []
    for tab in tabs:
        sections = [
            SectionSpec(s.label, s.columns, kept)
            for s in tab.sections
            if (kept := [f for f in s.fields if f.name not in hidden])
        ]
        out.append(TabSpec(tab.key, tab.label, sections))
    return out


def hidden_fields(app: Any, ctx: Any, entity: Entity) -> frozenset[str]:
    """Fields this user's roles hide entirely (masked ones are shown, masked, by the records service)."""
    return frozenset(n for n, level in app.permissions.field_levels(ctx, entity).items() if level == "hidden")
