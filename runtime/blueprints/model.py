"""The in-memory blueprint model: plain dataclasses built from validated pack documents.

The raw JSON stays available (`raw`) because deploys store it and diffs compare it; the
dataclasses exist so that the rest of the runtime never digs through dicts by string keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Label = str | dict[str, str]


def label_text(label: Label | None, lang: str = "zh") -> str:
    """Pick the label for a language, falling back to the other language, then to ''."""
    if label is None:
        return ""
    if isinstance(label, str):
        return label
    return label.get(lang) or label.get("zh") or label.get("en") or next(iter(label.values()), "")


@dataclass
class Field:
    name: str
    type: str
    label: Label
    raw: dict[str, Any]
    children: list[Field] = field(default_factory=list)

    def opt(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    @property
    def required(self) -> bool:
        return bool(self.raw.get("required"))

    @property
    def unique(self) -> bool:
        return bool(self.raw.get("unique"))

    @property
    def indexed(self) -> bool:
        return bool(self.raw.get("indexed")) or self.type in ("reference", "user", "department")

    @property
    def sensitive(self) -> bool:
        return bool(self.raw.get("sensitive"))

    @property
    def read_only(self) -> bool:
        return bool(self.raw.get("read_only"))

    @property
    def is_system_filled(self) -> bool:
        """Computed and auto-number values are produced by the runtime, never typed in."""
        return self.type in ("computed", "autonumber")

    def label_in(self, lang: str) -> str:
        return label_text(self.label, lang)


@dataclass
class Entity:
    id: str
    label: Label
    fields: list[Field]
    raw: dict[str, Any]
    pack_id: str = ""

    def __post_init__(self) -> None:
        self._by_name = {f.name: f for f in self.fields}

    def field(self, name: str) -> Field | None:
        return self._by_name.get(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def title_field(self) -> str:
        return self.raw.get("title_field") or self.fields[0].name

    @property
    def table_name(self) -> str:
        return f"e_{self.id}"

    def child_table_name(self, child: Field) -> str:
        return f"e_{self.id}__{child.name}"

    def label_in(self, lang: str) -> str:
        return label_text(self.label, lang)


@dataclass
class FormSection:
    label: Label | None
    columns: int
    fields: list[str]
    visible_when: str | None = None


@dataclass
class FormTab:
    label: Label
    sections: list[FormSection]


@dataclass
class Form:
    id: str
    entity: str
    tabs: list[FormTab]
    raw: dict[str, Any]
    pack_id: str = ""

    @property
    def field_names(self) -> list[str]:
        return [name for tab in self.tabs for sec in tab.sections for name in sec.fields]

    def conditions(self, field_name: str) -> dict[str, str]:
        return self.raw.get("conditions", {}).get(field_name, {})

    @property
    def has_tabs(self) -> bool:
        return "tabs" in self.raw


@dataclass
class View:
    id: str
    entity: str
    type: str
    raw: dict[str, Any]
    pack_id: str = ""

    def opt(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


@dataclass
class Option:
    value: str
    label: Label
    active: bool = True
    color: str | None = None
    children: list[Option] = field(default_factory=list)


@dataclass
class OptionSet:
    id: str
    label: Label
    options: list[Option]
    raw: dict[str, Any]
    pack_id: str = ""

    def flat(self) -> list[tuple[Option, list[str]]]:
        """Every option with its path of ancestor values, depth first (trees such as patient sources)."""
        out: list[tuple[Option, list[str]]] = []

        def walk(options: list[Option], path: list[str]) -> None:
            for opt in options:
                out.append((opt, path))
                walk(opt.children, [*path, opt.value])

        walk(self.options, [])
        return out

    def values(self, active_only: bool = True) -> list[str]:
        return [o.value for o, _ in self.flat() if o.active or not active_only]

    def find(self, value: str) -> Option | None:
        return next((o for o, _ in self.flat() if o.value == value), None)


@dataclass
class RoleDef:
    """A role shipped in a pack (roles/*.json): its permissions stay raw JSON here; runtime.permissions
    parses them, and administrators may override them at run time (stored in tessera_roles)."""

    id: str
    label: Label
    parent: str | None
    rights: list[str]
    permissions: list[dict[str, Any]]
    raw: dict[str, Any]
    pack_id: str = ""

    def label_in(self, lang: str) -> str:
        return label_text(self.label, lang)


@dataclass
class Pack:
    id: str
    version: str
    manifest: dict[str, Any]
    entities: dict[str, Entity]
    forms: dict[str, Form]
    views: dict[str, View]
    option_sets: dict[str, OptionSet]
    menus: list[dict[str, Any]]
    demo: list[dict[str, Any]]
    documents: dict[str, Any]
    """Every file of the pack by relative path, exactly as loaded: what deploys store and diffs compare."""
    roles: dict[str, RoleDef] = field(default_factory=dict)
    workflows: dict[str, str] = field(default_factory=dict)
    """BPMN files of the pack's workflows/ folder by relative path (XML text; checked when loaded)."""
    extras: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Documents of the extra kinds (runtime.blueprints.kinds: rules, templates, scores...) by kind, then id."""

    @property
    def name(self) -> Label:
        return self.manifest.get("name", self.id)


def option_from_raw(raw: dict[str, Any]) -> Option:
    return Option(
        value=raw["value"],
        label=raw["label"],
        active=raw.get("active", True),
        color=raw.get("color"),
        children=[option_from_raw(c) for c in raw.get("children", [])],
    )


def field_from_raw(raw: dict[str, Any]) -> Field:
    return Field(
        name=raw["name"],
        type=raw["type"],
        label=raw["label"],
        raw=raw,
        children=[field_from_raw(c) for c in raw.get("fields", [])],
    )


def role_from_raw(raw: dict[str, Any], pack_id: str) -> RoleDef:
    return RoleDef(
        id=raw["id"],
        label=raw["label"],
        parent=raw.get("parent"),
        rights=list(raw.get("rights", [])),
        permissions=list(raw.get("permissions", [])),
        raw=raw,
        pack_id=pack_id,
    )


def form_from_raw(raw: dict[str, Any], pack_id: str) -> Form:
    def section(s: dict[str, Any]) -> FormSection:
        return FormSection(s.get("label"), s.get("columns", 2), list(s["fields"]), s.get("visible_when"))

    if "tabs" in raw:
        tabs = [FormTab(t["label"], [section(s) for s in t["sections"]]) for t in raw["tabs"]]
    else:
        tabs = [FormTab(raw.get("label", ""), [section(s) for s in raw["sections"]])]
    return Form(raw["id"], raw["entity"], tabs, raw, pack_id)


SYSTEM_FIELDS: tuple[str, ...] = (
    "id",
    "version",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "owner_id",
    "department_id",
)
"""Columns every entity table has; pack fields may not reuse these names."""

CHILD_SYSTEM_FIELDS: tuple[str, ...] = ("id", "parent_id", "position")
"""Columns every child-table row has; row fields may not reuse these names."""
