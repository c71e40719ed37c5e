"""A rule document read once per registry generation: its trigger kind, compiled condition and the
field names its expressions may use. Kept separate from the engine so checks and the admin page share it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from runtime.expressions import Expression, compile_expression

DURATION = re.compile(r"^(\d{1,5})([mhd])$")
EXTRA_NAMES = (
    "record",
    "before",
    "event",
    "input",
    "id",
    "version",
    "owner_id",
    "department_id",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
)
"""Names every rule expression may read besides the entity's fields."""
RECORD_TRIGGERS = ("on", "field_change", "state_change")


def parse_duration(text: str) -> timedelta:
    """'15m', '2h', '30d' -> timedelta; the schema already restricts the shape."""
    match = DURATION.match(text or "")
    if match is None:
        raise ValueError(f"'{text}' is not a duration like 15m, 2h or 30d")
    amount, unit = int(match.group(1)), match.group(2)
    return {"m": timedelta(minutes=amount), "h": timedelta(hours=amount), "d": timedelta(days=amount)}[unit]


def trigger_kind(trigger: dict[str, Any]) -> str:
    for kind in ("on", "field_change", "state_change", "date", "cron", "event"):
        if kind in trigger:
            return kind
    raise ValueError(f"unknown trigger {trigger!r}")


@dataclass(frozen=True)
class Rule:
    id: str
    doc: dict[str, Any]
    entity: str | None
    kind: str
    condition: Expression | None
    actions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Rule:
        condition = compile_expression(doc["condition"]) if doc.get("condition") else None
        return cls(doc["id"], doc, doc.get("entity"), trigger_kind(doc["trigger"]), condition, list(doc["actions"]))

    @property
    def trigger(self) -> dict[str, Any]:
        return self.doc["trigger"]

    @property
    def enabled(self) -> bool:
        return self.doc.get("enabled", True)

    def label(self, lang: str) -> str:
        label = self.doc.get("label") or self.id
        return label if isinstance(label, str) else label.get(lang) or label.get("en") or label.get("zh") or self.id

    def date_shift(self) -> timedelta:
        """Fire when date_field <= now + shift: 'before 30d' is +30 days, 'after 2h' is -2 hours."""
        spec = self.trigger["date"]
        return parse_duration(spec["before"]) if "before" in spec else -parse_duration(spec["after"])

    def describe_trigger(self) -> str:
        t = self.trigger
        if self.kind == "on":
            return f"on {t['on']}"
        if self.kind == "field_change":
            names = t["field_change"]
            return "change of " + ", ".join([names] if isinstance(names, str) else names)
        if self.kind == "state_change":
            spec = t["state_change"]
            return f"state change {spec.get('from') or '*'} → {spec.get('to') or '*'}"
        if self.kind == "date":
            spec = t["date"]
            when = f"{spec['before']} before" if "before" in spec else f"{spec['after']} after"
            return f"{when} {spec['field']}"
        if self.kind == "cron":
            return f"cron {t['cron']}" + (f" where {t['where']}" if t.get("where") else "")
        return f"event {t['event']}"


def variables(
    record: dict[str, Any] | None,
    *,
    before: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
    input: dict[str, Any] | None = None,  # noqa: A002 - the name rule authors write
    entity: Any = None,
    input_entity: Any = None,
) -> dict[str, Any]:
    """What an expression sees: the record's values by name, plus record/before/event/input as mappings.

    With ``entity`` (and ``input_entity`` for an input form of another entity) the values are typed as
    expressions expect (dates as dates, money as Decimal), not the JSON text the records service returns,
    so ``days_between(last_visit_date, today())`` works in conditions, guards and actions."""
    if entity is not None:
        record, before = typed(entity, record), typed(entity, before)
        input = typed(input_entity or entity, input)  # noqa: A001
    values: dict[str, Any] = {}
    if event:
        values.update(event)
    if record:
        values.update(record)
    if input:
        values.update(input)
    values.update(record=record or {}, before=before or {}, event=event or {}, input=input or {})
    return values


def typed(entity: Any, values: dict[str, Any] | None) -> dict[str, Any] | None:
    """A record's JSON values as expression values; names that are not fields (id, version...) kept as they are."""
    if not values:
        return values
    from runtime.records.convert import python_values

    return {**values, **python_values(entity.fields, values)}


def date_key(value: Any) -> str:
    """How a date value is remembered in tessera_rule_fired: ISO text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
