"""Follow-up plan templates as the runtime reads them (pack folder followups/, schema followup_plan).

A plan is a timeline of steps relative to an anchor date/datetime field of a record: step ``offset`` days or
hours after the anchor, on a channel. Machine channels (sms, email, in_app) send a message when due; human
channels (phone, visit, review) create a work item for the step's assignee, with the step's form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

MACHINE_CHANNELS = frozenset({"sms", "email", "in_app"})
HUMAN_CHANNELS = frozenset({"phone", "visit", "review"})
CHANNELS = MACHINE_CHANNELS | HUMAN_CHANNELS


@dataclass(frozen=True)
class Alert:
    id: str
    when: str
    notify: dict[str, Any]
    template: str | None
    title: Any
    level: str


@dataclass(frozen=True)
class Step:
    id: str
    label: Any
    offset: timedelta
    channel: str
    form: str | None = None
    template: str | None = None
    message: dict[str, Any] | None = None
    assignee: dict[str, Any] | None = None
    sla_hours: float | None = None
    alerts: tuple[Alert, ...] = ()
    contact: dict[str, str] | None = None
    """sms/email steps with a contact go to that person of the record (the patient), not the assignee."""
    answer_values: dict[str, str] | None = None
    """Human steps with a form: field -> expression on the followed record, the values the answers record
    starts with (its patient, title, type), so the person only enters the answers."""

    @property
    def is_human(self) -> bool:
        return self.channel in HUMAN_CHANNELS


@dataclass(frozen=True)
class Plan:
    id: str
    label: Any
    entity: str
    anchor: str
    applies_when: str | None
    start: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)


def offset_of(raw: dict[str, Any]) -> timedelta:
    return timedelta(days=int(raw.get("days", 0)), hours=int(raw.get("hours", 0)))


def plan_from_doc(doc: dict[str, Any]) -> Plan:
    steps = []
    for raw in doc.get("steps", []):
        alerts = tuple(
            Alert(
                id=a.get("id") or f"alert{i + 1}",
                when=a["when"],
                notify=a["notify"],
                template=a.get("template"),
                title=a.get("title"),
                level=a.get("level", "warning"),
            )
            for i, a in enumerate(raw.get("alerts", []))
        )
        steps.append(
            Step(
                id=raw["id"],
                label=raw["label"],
                offset=offset_of(raw["offset"]),
                channel=raw["channel"],
                form=raw.get("form"),
                template=raw.get("template"),
                message=raw.get("message"),
                assignee=raw.get("assignee"),
                sla_hours=raw.get("sla_hours"),
                alerts=alerts,
                contact=raw.get("contact"),
                answer_values=raw.get("answer_values"),
            )
        )
    return Plan(
        id=doc["id"],
        label=doc["label"],
        entity=doc["entity"],
        anchor=doc["anchor"],
        applies_when=doc.get("applies_when"),
        start=doc.get("start", "on_anchor_set"),
        steps=tuple(steps),
    )


def anchor_datetime(value: Any) -> datetime | None:
    """The anchor field's value as a naive-UTC datetime (a date counts from its midnight), or None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is not None:
            from datetime import UTC

            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed
    return None


def text(label: Any, lang: str) -> str:
    """A label in the user's language (a plain string is the same in every language)."""
    if isinstance(label, dict):
        return str(label.get(lang) or label.get("zh") or label.get("en") or next(iter(label.values()), ""))
    return "" if label is None else str(label)
