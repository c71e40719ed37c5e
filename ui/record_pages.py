"""Page models for one record: the edit/create form and the read-only detail page.

Both follow the same layout (tabs > sections > columns). The form shows a widget per field in
its current state (visible / required / read-only, as evaluated by the records service for the
values so far); the detail page shows formatted values. Errors are grouped per field, counted
per tab (so a problem on a hidden tab is still found) and listed in a summary at the top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.blueprints.model import Entity, Field, label_text
from runtime.records import Context
from runtime.records.convert import row_to_json
from runtime.records.logic import FieldState
from runtime.services import Tessera
from runtime.validation.errors import FieldError
from ui.formatting import Cell, display
from ui.i18n import t
from ui.layout import TabSpec
from ui.lookups import Lookups
from ui.widgets import Widget, WidgetFactory


@dataclass
class SectionModel:
    label: str
    columns: int
    items: list[Any]
    hidden: bool = False


@dataclass
class TabModel:
    key: str
    label: str
    sections: list[SectionModel]
    error_count: int = 0


@dataclass
class ErrorItem:
    label: str
    message: str
    anchor: str | None
    tab: str | None


@dataclass
class DetailItem:
    field: Field
    label: str
    cell: Cell
    wide: bool
    columns: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)


def computed_json(entity: Entity, computed: dict[str, Any]) -> dict[str, Any]:
    """Computed values as the API shows them (Decimal -> float, dates -> ISO) for formatting."""
    fields = [f for f in entity.fields if f.type == "computed" and f.name in computed]
    return row_to_json(fields, computed)


def errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in errors:
        messages = out.setdefault(e.field, [])
        if e.message not in messages:
            messages.append(e.message)
    return out


def build_form_tabs(
    tessera: Tessera,
    ctx: Context,
    entity: Entity,
    tabs: list[TabSpec],
    values: dict[str, Any],
    states: dict[str, FieldState],
    computed: dict[str, Any],
    record: dict[str, Any] | None,
    errors: list[FieldError],
    lookups: Lookups,
) -> tuple[list[TabModel], list[ErrorItem]]:
    """Widgets for every field of the layout, plus the error summary (linked to the fields)."""
    lang = ctx.lang
    factory = WidgetFactory(tessera, lookups, lang)
    by_field = errors_by_field(errors)
    shown = computed_json(entity, computed)
    models: list[TabModel] = []
    tab_of: dict[str, str] = {}
    widgets: dict[str, Widget] = {}
    for tab in tabs:
        sections = []
        for spec in tab.sections:
            items = []
            for f in spec.fields:
                cell = None
                if f.type == "computed":
                    cell = display(f, shown.get(f.name), lang, tessera.registry, lookups)
                elif f.is_system_filled or f.read_only:
                    stored = record.get(f.name) if record else None
                    cell = display(f, stored, lang, tessera.registry, lookups)
                w = factory.build(f, values.get(f.name), states.get(f.name), by_field, cell)
                w.hide_label = len(spec.fields) == 1 and spec.label == w.label
                widgets[f.name] = w
                tab_of[f.name] = tab.key
                items.append(w)
            hidden = all(not w.visible for w in items)
            sections.append(SectionModel(spec.label, spec.columns, items, hidden))
        models.append(TabModel(tab.key, tab.label, sections))
    summary = []
    counts: dict[str, int] = {}
    position = {name: i for i, name in enumerate(widgets)}
    ordered = sorted(
        by_field.items(), key=lambda kv: (position.get(kv[0].split(".")[0], len(position)), kv[0])
    )
    for key, messages in ordered:
        top = key.split(".")[0]
        tab_key = tab_of.get(top)
        label, anchor = _error_label(entity, key, widgets.get(top), lang)
        for message in messages:
            summary.append(ErrorItem(label, message, anchor, tab_key))
            if tab_key:
                counts[tab_key] = counts.get(tab_key, 0) + 1
    for m in models:
        m.error_count = counts.get(m.key, 0)
    return models, summary


def _error_label(entity: Entity, key: str, widget: Widget | None, lang: str) -> tuple[str, str | None]:
    """'联系人 第 3 行 · 手机' for a cell; the field label otherwise; '' for record-level problems."""
    if not key:
        return t(lang, "form.record_error"), None
    parts = key.split(".")
    f = entity.field(parts[0])
    if f is None:
        return key, None
    label = label_text(f.label, lang)
    if len(parts) == 3 and parts[1].isdigit():
        col = next((c for c in f.children if c.name == parts[2]), None)
        row = int(parts[1]) + 1
        cell_label = label_text(col.label, lang) if col else parts[2]
        label = f"{label} · {t(lang, 'form.row')} {row} · {cell_label}"
    anchor = None
    if widget is not None and widget.visible:
        anchor = "in-" + key.replace(".", "-").replace("_", "-")
    return label, anchor


def build_detail_tabs(
    tessera: Tessera,
    ctx: Context,
    entity: Entity,
    tabs: list[TabSpec],
    record: dict[str, Any],
    states: dict[str, FieldState],
    lookups: Lookups,
) -> list[TabModel]:
    """Read mode of the form layout: hidden fields stay hidden, child tables become tables."""
    lang = ctx.lang
    registry = tessera.registry
    models = []
    for tab in tabs:
        sections = []
        for spec in tab.sections:
            items = []
            for f in spec.fields:
                state = states.get(f.name)
                if state is not None and not state.visible:
                    continue
                item = DetailItem(
                    f,
                    label_text(f.label, lang),
                    display(f, record.get(f.name), lang, registry, lookups, full=True),
                    wide=f.type in ("child_table", "long_text", "json"),
                )
                if f.type == "child_table":
                    item.columns = [label_text(c.label, lang) for c in f.children]
                    item.rows = [
                        [display(c, row.get(c.name), lang, registry, lookups) for c in f.children]
                        for row in record.get(f.name) or []
                    ]
                items.append(item)
            if items:
                sections.append(SectionModel(spec.label, spec.columns, items))
        if sections:
            models.append(TabModel(tab.key, tab.label, sections))
    return models
