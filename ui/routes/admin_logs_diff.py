"""Audit entries as people read them: field labels, old -> new values formatted like the record pages.

The entries reaching this module were already filtered by ``runtime.audit`` (sensitive values
sealed, and for a record's history the reader's field masking applied): this module only
formats. Values use ``ui.formatting.display`` (option labels, money, local times, reference
titles), so the history shows "三级甲等" where the database holds "3A".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.audit import is_sealed
from runtime.blueprints.model import Entity, Field, label_text
from runtime.permissions.model import MASKED
from runtime.records import Context
from runtime.services import Tessera
from ui.formatting import EMPTY, Cell, display
from ui.i18n import t
from ui.lookups import Lookups
from ui.routes.admin_logs_common import actor_text, coded_label, local_time

SYSTEM_FIELDS = {
    "owner_id": Field("owner_id", "user", {}, {}),
    "department_id": Field("department_id", "department", {}, {}),
}
"""System columns the audit trail tracks, typed so their ids show as names."""


@dataclass
class Value:
    kind: str = "cell"
    """cell (a formatted value), sealed (a sensitive value: never shown) or rows (child-table rows)."""
    cell: Cell = field(default_factory=lambda: EMPTY)
    columns: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class DiffRow:
    name: str
    label: str
    old: Value
    new: Value
    masked: bool = False
    sealed: bool = False


@dataclass
class EntryView:
    id: int
    at: str
    action: str
    actor: str
    channel: str
    channel_label: str
    request_id: str | None
    entity_id: str
    entity_label: str
    record_id: int
    record_title: str
    record_href: str | None
    rows: list[DiffRow]

    @property
    def show_old(self) -> bool:
        return self.action != "create"

    @property
    def show_new(self) -> bool:
        return self.action != "delete"


class EntryFormatter:
    """Formats a page of audit entries with one batch of lookups (titles, user and department names)."""

    def __init__(self, app: Tessera, ctx: Context, *, masked_for_viewer: bool = False):
        self.app = app
        self.ctx = ctx
        self.lang = ctx.lang
        self.lookups = Lookups(app, ctx)
        self.masked_for_viewer = masked_for_viewer
        self._masked: dict[str, set[str]] = {}

    def entries(self, items: list[dict[str, Any]], *, link_records: bool = True) -> list[EntryView]:
        by_entity: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            by_entity.setdefault(item["entity"], []).append(item)
        titles = {eid: self._prime(eid, group, link_records) for eid, group in by_entity.items()}
        return [self._entry(item, titles.get(item["entity"], {}), link_records) for item in items]

    # lookups --------------------------------------------------------------------------------------
    def _prime(self, entity_id: str, items: list[dict[str, Any]], link_records: bool) -> dict[int, str]:
        entity = self.app.registry.entities.get(entity_id)
        if entity is None:
            return {}
        fields = [*entity.fields, *SYSTEM_FIELDS.values()]
        pseudo: list[dict[str, Any]] = []
        for item in items:
            pairs = {k: v for k, v in item["changes"].items() if isinstance(v, list) and len(v) == 2}
            pseudo.append({k: v[0] for k, v in pairs.items()})
            pseudo.append({k: v[1] for k, v in pairs.items()})
        self.lookups.prime(fields, pseudo)
        if self.masked_for_viewer:
            levels = self.app.permissions.field_levels(self.ctx, entity)
            self._masked[entity_id] = {name for name, level in levels.items() if level == MASKED}
        if not link_records:
            return {}
        ids = sorted({item["record_id"] for item in items})
        return {k: str(v) for k, v in self.app.records.titles(entity_id, ids, self.ctx).items()}

    # one entry -------------------------------------------------------------------------------------
    def _entry(self, item: dict[str, Any], titles: dict[int, str], link_records: bool) -> EntryView:
        entity = self.app.registry.entities.get(item["entity"])
        rid = item["record_id"]
        title = titles.get(rid) or self._snapshot_title(entity, item) or f"#{rid}"
        exists = rid in titles
        return EntryView(
            id=item["id"],
            at=local_time(item["at"]),
            action=item["action"],
            actor=actor_text(item.get("actor"), item.get("actor_id"), self.lang),
            channel=item["channel"],
            channel_label=coded_label("logs.channel.", item["channel"], self.lang),
            request_id=item.get("request_id"),
            entity_id=item["entity"],
            entity_label=entity.label_in(self.lang) if entity else item["entity"],
            record_id=rid,
            record_title=title,
            record_href=f"/r/{item['entity']}/{rid}" if link_records and exists else None,
            rows=self._rows(entity, item),
        )

    @staticmethod
    def _snapshot_title(entity: Entity | None, item: dict[str, Any]) -> str | None:
        """A deleted record's title, from the values its delete entry kept."""
        if entity is None:
            return None
        pair = item["changes"].get(entity.title_field)
        if isinstance(pair, list) and len(pair) == 2:
            value = pair[0] if pair[0] not in (None, "") else pair[1]
            return str(value) if value not in (None, "") else None
        return None

    def _rows(self, entity: Entity | None, item: dict[str, Any]) -> list[DiffRow]:
        changes: dict[str, Any] = item["changes"]
        order = [f.name for f in entity.fields] if entity else []
        names = [n for n in order if n in changes] + [n for n in changes if n not in order]
        masked = self._masked.get(item["entity"], set())
        return [self._row(entity, item["action"], name, changes[name], name in masked) for name in names]

    def _row(self, entity: Entity | None, action: str, name: str, change: Any, masked: bool) -> DiffRow:
        f = (entity.field(name) if entity else None) or SYSTEM_FIELDS.get(name)
        label = self._label(f, name)
        if is_sealed(change):
            sealed = Value("sealed")
            old = Value() if action == "create" else sealed
            new = Value() if action == "delete" else sealed
            return DiffRow(name, label, old, new, masked=masked, sealed=True)
        before, after = change if isinstance(change, list) and len(change) == 2 else (None, change)
        return DiffRow(name, label, self._value(f, before, masked), self._value(f, after, masked), masked=masked)

    def _label(self, f: Field | None, name: str) -> str:
        if name in SYSTEM_FIELDS:
            return t(self.lang, f"logs.field.{name}")
        return label_text(f.label, self.lang) if f is not None else name

    def _value(self, f: Field | None, value: Any, masked: bool) -> Value:
        if f is not None and f.type == "child_table" and isinstance(value, list) and value:
            dicts = [row for row in value if isinstance(row, dict)]
            rows = [[self._cell(c, row.get(c.name), masked) for c in f.children] for row in dicts]
            return Value("rows", columns=[label_text(c.label, self.lang) for c in f.children], rows=rows)
        return Value("cell", self._cell(f, value, masked))

    def _cell(self, f: Field | None, value: Any, masked: bool) -> Cell:
        if isinstance(value, dict) and value.get("redacted") is True:
            return Cell("redacted", text=t(self.lang, "logs.diff.redacted"))
        if value is None or value == "" or value == []:
            return EMPTY
        if f is None:
            return Cell("text", text=value if isinstance(value, str) else repr(value))
        try:
            cell = display(f, value, self.lang, self.app.registry, self.lookups)
        except (TypeError, ValueError, KeyError, AttributeError):  # a value stored under an older blueprint
            return Cell("text", text=str(value))
        if masked and cell.kind == "link":  # tel:/mailto: of a masked value would dial nothing
            return Cell("text", text=cell.text)
        return cell
