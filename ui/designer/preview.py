"""The live preview of a form being designed: the real record form, built from draft documents.

The preview must show what users will get, so it goes through the record pages' own code
(ui.layout.form_layout, ui.record_pages.build_form_tabs, the widget macros) and the runtime's
condition logic; only the documents differ: the designer's unsaved entity, form and option sets
instead of the deployed registry. Option sets are resolved through a thin overlay of the
registry, because widgets look their choices up there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.blueprints.model import Entity, Form, OptionSet, field_from_raw, form_from_raw, option_from_raw
from runtime.records import Context
from runtime.records.convert import python_values
from runtime.records.logic import FieldState, apply_defaults, compute_fields, field_states
from runtime.services import Tessera
from ui import layout
from ui.forms import read_post, widget_values
from ui.lookups import Lookups
from ui.record_pages import TabModel, build_form_tabs


class _RegistryOverlay:
    """The deployed registry, except for the option sets the draft defines (new or edited ones)."""

    def __init__(self, registry: Any, option_sets: dict[str, OptionSet]):
        self._registry = registry
        self.option_sets = {**registry.option_sets, **option_sets}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)


class _TesseraOverlay:
    """The runtime with the registry overlay; everything else (users, departments, clock) is the real one."""

    def __init__(self, app: Tessera, registry: _RegistryOverlay):
        self._app = app
        self.registry = registry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


@dataclass
class DraftForm:
    entity: Entity
    form: Form
    app: Any


def draft_form(app: Tessera, pack_id: str, entity_doc: dict, form_doc: dict, option_docs: dict[str, dict]) -> DraftForm:
    """Model objects for the designer's documents (they need not be valid yet: unknown names are skipped)."""
    fields = [field_from_raw(f) for f in entity_doc.get("fields", []) if _usable_field(f)]
    entity = Entity(str(entity_doc.get("id", "")), entity_doc.get("label", ""), fields, entity_doc, pack_id)
    raw = dict(form_doc)
    if not raw.get("tabs"):
        raw.pop("tabs", None)
        raw["sections"] = raw.get("sections") or []
    form = form_from_raw(raw, pack_id)
    sets = {
        sid: OptionSet(sid, doc.get("label", sid), [option_from_raw(o) for o in doc.get("options", [])], doc, pack_id)
        for sid, doc in option_docs.items()
        if isinstance(doc, dict)
    }
    overlay = _TesseraOverlay(app, _RegistryOverlay(app.registry, sets))
    return DraftForm(entity, form, overlay)


def _usable_field(raw: Any) -> bool:
    return isinstance(raw, dict) and isinstance(raw.get("name"), str) and isinstance(raw.get("type"), str)


def preview_tabs(
    draft: DraftForm, ctx: Context, post: Any | None = None
) -> tuple[list[TabModel], dict[str, FieldState]]:
    """Widgets of the draft form for a new record, in the state the values typed so far produce."""
    app, entity, form = draft.app, draft.entity, draft.form
    tabs = layout.form_layout(entity, form, ctx.lang)
    values = apply_defaults(entity, {}, app.clock)
    raw: dict[str, Any] = {}
    if post is not None:
        parsed = read_post([f for f in layout.layout_fields(tabs) if layout.editable(f)], post, ctx.lang)
        values.update({k: v for k, v in parsed.data.items() if v is not None})
        raw = parsed.raw
    states = form_states(draft, values, ctx.lang)
    python = python_values(entity.fields, values)
    computed, _ = compute_fields(entity, python, app.clock, ctx.lang)
    lookups = Lookups(app, ctx)
    shown = {**widget_values(entity.fields, values), **raw}
    models, _ = build_form_tabs(app, ctx, entity, tabs, shown, states, computed, None, [], lookups)
    return models, states


def form_states(draft: DraftForm, values: dict[str, Any], lang: str) -> dict[str, FieldState]:
    """Visible / required / read-only per field, exactly as the records service decides for a form."""
    app, entity = draft.app, draft.entity
    python = python_values(entity.fields, values)
    computed, _ = compute_fields(entity, python, app.clock, lang)
    return field_states(entity, draft.form, {**python, **computed}, app.clock)
