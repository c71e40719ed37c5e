"""Cross-reference checks of rules/ documents (after the JSON Schema): every entity, field, expression
and cron schedule a rule names must exist and make sense, reported as file + JSON pointer + sentence."""

from __future__ import annotations

from typing import Any

from croniter import croniter

from runtime.automation.rules.model import EXTRA_NAMES, trigger_kind
from runtime.automation.rules.templating import template_problems
from runtime.blueprints.errors import PackError, pointer
from runtime.expressions import check_expression
from runtime.notify.contacts import check_spec as check_contact

DATE_TYPES = ("date", "datetime")
USER_TYPES = ("user",)
NEEDS_ENTITY = ("on", "field_change", "state_change", "date")


def field_names(entity: Any) -> list[str]:
    return [f.name for f in entity.fields] + list(EXTRA_NAMES)


def check_actions(
    pack: Any, rel: str, actions: list[dict[str, Any]], entity: Any, base: tuple, allowed: list[str] | None
):
    """Shared with state-machine effects: what each action names must exist."""
    errors: list[PackError] = []

    def err(where: tuple, message: str) -> None:
        errors.append(PackError(rel, pointer(*base, *where), message))

    def exprs(where: tuple, values: dict[str, str], names: list[str] | None) -> None:
        for name, source in values.items():
            for problem in check_expression(source, names):
                err((*where, name), f"expression does not compile: {problem}")

    for i, action in enumerate(actions):
        kind = action.get("type")
        if kind == "set_fields":
            if entity is None:
                err((i,), "set_fields needs the rule's 'entity' (a record to change)")
                continue
            known = {f.name for f in entity.fields}
            for name in action["values"]:
                if name not in known:
                    err((i, "values", name), f"unknown field '{name}' of entity '{entity.id}'")
            exprs((i, "values"), action["values"], allowed)
        elif kind == "create_record":
            target = pack.entities.get(action["entity"])
            if target is None:
                err((i, "entity"), f"unknown entity '{action['entity']}'")
                continue
            known = {f.name for f in target.fields}
            for name in action["values"]:
                if name not in known:
                    err((i, "values", name), f"unknown field '{name}' of entity '{target.id}'")
            exprs((i, "values"), action["values"], allowed)
        elif kind == "create_task":
            for problem in template_problems(action["title"], allowed):
                err((i, "title"), problem)
            if action.get("form") and action["form"] not in pack.forms:
                err((i, "form"), f"unknown form '{action['form']}'")
            spec = action.get("assignee") or {}
            if "field" in spec and entity is not None and entity.field(spec["field"]) is None:
                err((i, "assignee", "field"), f"unknown field '{spec['field']}' of entity '{entity.id}'")
        elif kind == "notify":
            for j, recipient in enumerate(action["recipients"]):
                if "field" in recipient:
                    f = entity.field(recipient["field"]) if entity is not None else None
                    if f is None:
                        err((i, "recipients", j, "field"), f"unknown field '{recipient['field']}'")
                    elif f.type not in USER_TYPES:
                        err((i, "recipients", j, "field"), f"field '{f.name}' is a {f.type} field, not a user field")
                elif "contact" in recipient:
                    if entity is None:
                        err((i, "recipients", j, "contact"), "a contact is read from the rule's record: set 'entity'")
                        continue
                    for problem in check_contact(entity, recipient["contact"], pack.entities):
                        err((i, "recipients", j, "contact"), problem)
            for part in ("title", "body"):
                for problem in template_problems(action.get(part) or "", allowed):
                    err((i, part), problem)
        elif kind == "start_workflow":
            exprs((i, "data"), action.get("data") or {}, allowed)
        elif kind == "webhook":
            exprs((i, "body"), action.get("body") or {}, allowed)
    return errors


def check_rules(pack: Any, documents: dict[str, dict[str, Any]]) -> list[PackError]:
    errors: list[PackError] = []
    for rel, doc in sorted(documents.items()):
        errors.extend(_check_rule(pack, rel, doc))
    return errors


def _check_rule(pack: Any, rel: str, doc: dict[str, Any]) -> list[PackError]:
    errors: list[PackError] = []

    def err(where: tuple, message: str) -> None:
        errors.append(PackError(rel, pointer(*where), message))

    trigger = doc["trigger"]
    kind = trigger_kind(trigger)
    entity = None
    if doc.get("entity"):
        entity = pack.entities.get(doc["entity"])
        if entity is None:
            err(("entity",), f"unknown entity '{doc['entity']}' (not an entity of this pack)")
            return errors
    elif kind in NEEDS_ENTITY or (kind == "cron" and trigger.get("where")):
        err(("entity",), f"a rule triggered by '{kind}' needs 'entity'")
        return errors
    allowed = field_names(entity) if entity is not None else None
    known = {f.name: f for f in entity.fields} if entity is not None else {}
    if kind == "field_change":
        names = trigger["field_change"]
        for name in [names] if isinstance(names, str) else names:
            if name not in known:
                err(("trigger", "field_change"), f"unknown field '{name}' of entity '{entity.id}'")
    elif kind == "state_change":
        name = trigger["state_change"].get("field", "status")
        if name not in known:
            err(("trigger", "state_change", "field"), f"unknown field '{name}' of entity '{entity.id}'")
    elif kind == "date":
        name = trigger["date"]["field"]
        f = known.get(name)
        if f is None:
            err(("trigger", "date", "field"), f"unknown field '{name}' of entity '{entity.id}'")
        elif f.type not in DATE_TYPES:
            err(("trigger", "date", "field"), f"field '{name}' is a {f.type} field; a date trigger needs a date field")
        elif not f.indexed:
            err(
                ("trigger", "date", "field"),
                f"field '{name}' is not indexed; add \"indexed\": true so the date scan is an index range query",
            )
    elif kind == "cron":
        if not croniter.is_valid(trigger["cron"]):
            err(
                ("trigger", "cron"),
                f"'{trigger['cron']}' is not a cron schedule (5 fields: minute hour day month weekday)",
            )
        if trigger.get("where"):
            for problem in check_expression(trigger["where"], allowed):
                err(("trigger", "where"), f"expression does not compile: {problem}")
    if doc.get("condition"):
        for problem in check_expression(doc["condition"], allowed if kind != "event" else None):
            err(("condition",), f"condition does not compile: {problem}")
    errors.extend(check_actions(pack, rel, doc["actions"], entity, ("actions",), allowed if kind != "event" else None))
    return errors
