"""The input for each field type, as plain data the form macros render.

One :class:`Widget` per field says which control to draw, its current value (as typed or as
stored), its label, help text and placeholder in the user's language, its state (visible,
required, read-only) and its inline errors. Child tables hold a widget per cell plus a template
row for "add row".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.blueprints.model import Field, label_text
from runtime.records.logic import FieldState
from runtime.services import Tessera
from ui import directory
from ui.formatting import Cell, css_color
from ui.lookups import Lookups

WIDGETS = {
    "text": "text",
    "long_text": "textarea",
    "integer": "number",
    "decimal": "number",
    "money": "number",
    "percent": "number",
    "date": "date",
    "datetime": "datetime",
    "time": "time",
    "boolean": "checkbox",
    "select": "select",
    "multiselect": "multiselect",
    "reference": "reference",
    "child_table": "child_table",
    "user": "select",
    "department": "select",
    "phone": "tel",
    "email": "email",
    "cn_id": "text",
    "region": "region",
    "file": "file",
    "image": "file",
    "rating": "rating",
    "nps": "nps",
    "tags": "tags",
    "computed": "readonly",
    "autonumber": "readonly",
    "json": "json",
}
ROW_TOKEN = "__row__"
"""Stands for the row number in the template row; tessera.js replaces it when a row is added."""


@dataclass
class Choice:
    value: str
    label: str
    depth: int = 0
    color: str | None = None
    disabled: bool = False


@dataclass
class Widget:
    field: Field
    name: str
    input_id: str
    kind: str
    label: str
    value: Any
    help: str = ""
    placeholder: str = ""
    visible: bool = True
    required: bool = False
    read_only: bool = False
    errors: list[str] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    display: Cell | None = None
    """Read-only display (computed, autonumber, and read-only fields)."""
    ref_title: str = ""
    hide_label: bool = False
    """The section heading already says it (a "Contacts" section holding only the contacts table)."""
    columns: list[Widget] = field(default_factory=list)
    """child_table: one header widget per column."""
    rows: list[list[Widget]] = field(default_factory=list)
    template_row: list[Widget] = field(default_factory=list)

    @property
    def type(self) -> str:
        return self.field.type


class WidgetFactory:
    """Builds widgets for one page; option lists for users and departments are loaded once."""

    def __init__(self, tessera: Tessera, lookups: Lookups, lang: str):
        self.tessera = tessera
        self.lookups = lookups
        self.lang = lang
        self._users: list[Choice] | None = None
        self._departments: list[Choice] | None = None

    def build(
        self,
        f: Field,
        value: Any,
        state: FieldState | None,
        errors: dict[str, list[str]],
        display: Cell | None = None,
        *,
        name: str | None = None,
    ) -> Widget:
        name = name or f.name
        state = state or FieldState(True, f.required, f.read_only or f.is_system_filled)
        widget = Widget(
            field=f,
            name=name,
            input_id="in-" + name.replace(".", "-").replace("_", "-"),
            kind=WIDGETS.get(f.type, "text"),
            label=label_text(f.label, self.lang),
            value=value,
            help=label_text(f.opt("help"), self.lang),
            placeholder=label_text(f.opt("placeholder"), self.lang),
            visible=state.visible,
            required=state.required,
            read_only=state.read_only,
            errors=errors.get(name, []),
            display=display,
        )
        self._decorate(widget, errors)
        return widget

    def _decorate(self, w: Widget, errors: dict[str, list[str]]) -> None:
        f = w.field
        if f.type in ("select", "multiselect"):
            w.choices = self.option_choices(f.opt("option_set"), w.value)
        elif f.type == "user":
            w.choices = self.user_choices()
        elif f.type == "department":
            w.choices = self.department_choices()
        elif f.type == "reference":
            if isinstance(w.value, str) and w.value.isdigit():
                w.ref_title = self.lookups.title(f.opt("entity"), int(w.value))
        elif f.type in ("integer", "decimal", "money", "percent"):
            w.attrs = _number_attrs(f)
        elif f.type in ("text", "long_text"):
            w.attrs = {
                k: v for k, v in (("maxlength", f.opt("max_length")), ("minlength", f.opt("min_length"))) if v
            }
        elif f.type == "cn_id":
            w.attrs = {"maxlength": 18, "autocomplete": "off"}
        elif f.type == "rating":
            w.attrs = {"scale": f.opt("scale", 5)}
        elif f.type in ("file", "image"):
            w.attrs = {
                "max_files": f.opt("max_files", 10),
                "accept": ",".join(f.opt("accept", [])) or ("image/*" if f.type == "image" else ""),
            }
        elif f.type == "region":
            parts = list(w.value or [])
            w.value = parts + [""] * (max(3, len(parts)) - len(parts))
        elif f.type == "child_table":
            self._child_table(w, errors)

    def _child_table(self, w: Widget, errors: dict[str, list[str]]) -> None:
        f = w.field
        w.columns = [self.build(c, "", None, {}, name=f"{w.name}.{ROW_TOKEN}.{c.name}") for c in f.children]
        w.template_row = [
            self.build(c, _empty_value(c), None, {}, name=f"{w.name}.{ROW_TOKEN}.{c.name}")
            for c in f.children
        ]
        w.rows = []
        for i, row in enumerate(w.value or []):
            w.rows.append(
                [
                    self.build(
                        c, row.get(c.name, _empty_value(c)), None, errors, name=f"{w.name}.{i}.{c.name}"
                    )
                    for c in f.children
                ]
            )

    def option_choices(self, set_id: str | None, current: Any) -> list[Choice]:
        """Options in tree order with depth (patient sources: 义诊 > 讲座); inactive ones only if chosen."""
        oset = self.tessera.registry.option_sets.get(set_id or "")
        if oset is None:
            return []
        chosen = set(current) if isinstance(current, list) else {current}
        out = []
        for opt, path in oset.flat():
            if not opt.active and opt.value not in chosen:
                continue
            out.append(Choice(opt.value, label_text(opt.label, self.lang), len(path), css_color(opt.color)))
        return out

    def user_choices(self) -> list[Choice]:
        if self._users is None:
            self._users = [Choice(str(c.value), c.label) for c in directory.user_choices(self.tessera)]
        return self._users

    def department_choices(self) -> list[Choice]:
        if self._departments is None:
            self._departments = [
                Choice(str(c.value), c.label, c.depth) for c in directory.department_choices(self.tessera)
            ]
        return self._departments


def _empty_value(f: Field) -> Any:
    if f.type in ("multiselect", "region", "file", "image"):
        return []
    if f.type == "boolean":
        return None
    return ""


def _number_attrs(f: Field) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if f.opt("min") is not None:
        attrs["min"] = f.opt("min")
    if f.opt("max") is not None:
        attrs["max"] = f.opt("max")
    if f.type == "integer":
        attrs["step"] = 1
        attrs["inputmode"] = "numeric"
    else:
        decimals = f.opt("decimals", 2)
        attrs["step"] = "any"
        attrs["inputmode"] = "decimal"
        attrs["decimals"] = decimals
    if f.type == "money":
        attrs["prefix"] = "¥"
    elif f.type == "percent":
        attrs["suffix"] = "%"
    return attrs
