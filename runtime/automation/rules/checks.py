"""Cross-reference checks of rules/ documents (after the JSON Schema): every entity, field, expression
and cron schedule a rule names must exist and make sense, reported as file + JSON pointer + sentence."""

from __future__ import annotations

import ast
from typing import Any

from croniter import croniter

from runtime.automation.rules.actions import LOOKUP_NAME, lookups_of
from runtime.automation.rules.model import EXTRA_NAMES, trigger_kind
from runtime.automation.rules.templating import template_problems
from runtime.automation.rules.webhooks import body_expressions, header_problems
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
        here = allowed
        if action.get("for_each"):
            spec = action["for_each"]
            for problem in check_expression(spec["segment"], allowed):
                err((i, "for_each", "segment"), f"expression does not compile: {problem}")
            here = None if allowed is None else [*allowed, spec.get("as", "item")]
            for problem in check_expression(spec.get("where") or "True", here):
                err((i, "for_each", "where"), f"expression does not compile: {problem}")
            allowed_here = here
        else:
            allowed_here = allowed
        if action.get("when"):  # may read what the action's lookups find (then checked after them)
            seen = [s.get("as", LOOKUP_NAME) for s in lookups_of(action)]
            for problem in check_expression(action["when"], None if allowed is None else [*allowed, *seen]):
                err((i, "when"), f"condition does not compile: {problem}")
        if action.get("lookup"):
            problems: list[tuple[tuple, str]] = []
            here, found = lookup_names(pack, action, allowed_here, problems)
            for where, message in problems:
                err((i, "lookup", *where), message)
            for part in ("values", "data", "body", "match"):
                for key, source in _part_expressions(action, part):
                    if check_expression(source, here):
                        continue  # reported below with the action's other expressions
                    for name, target in found.items():
                        known = {f.name for f in target.fields} | set(EXTRA_NAMES)
                        for used in subscripts(source, name):
                            if used not in known:
                                err((i, part, *key), f"unknown field '{used}' of entity '{target.id}' ({name}[...])")
        if kind == "set_fields":
            if entity is None:
                err((i,), "set_fields needs the rule's 'entity' (a record to change)")
                continue
            known = {f.name for f in entity.fields}
            for name in action.get("values") or {}:
                if name not in known:
                    err((i, "values", name), f"unknown field '{name}' of entity '{entity.id}'")
            for name in action.get("departments") or {}:
                f = entity.field(name)
                if f is None or f.type != "department":
                    err((i, "departments", name), f"'{name}' is not a department field of entity '{entity.id}'")
            exprs((i, "departments"), action.get("departments") or {}, here)
            for name in action.get("assign") or {}:
                f = entity.field(name)
                if f is None or f.type not in USER_TYPES:
                    err((i, "assign", name), f"'{name}' is not a user field of entity '{entity.id}'")
            exprs((i, "values"), action.get("values") or {}, here)
        elif kind in ("create_record", "update_record", "upsert_record"):
            target = pack.entities.get(action["entity"])
            if target is None:
                err((i, "entity"), f"unknown entity '{action['entity']}'")
                continue
            errors.extend(_check_write(pack, rel, action, entity, target, (*base, i), here))
        elif kind == "create_task":
            for problem in template_problems(action["title"], here):
                err((i, "title"), problem)
            if action.get("form") and action["form"] not in pack.forms:
                err((i, "form"), f"unknown form '{action['form']}'")
            spec = action.get("assignee") or {}
            if "field" in spec and entity is not None and entity.field(spec["field"]) is None:
                err((i, "assignee", "field"), f"unknown field '{spec['field']}' of entity '{entity.id}'")
        elif kind == "notify":
            for j, recipient in enumerate(action["recipients"]):
                if "field" in recipient:
                    f = _user_field(pack, entity, recipient["field"])
                    if f is None:
                        err((i, "recipients", j, "field"), f"unknown field '{recipient['field']}'")
                    elif f.type not in USER_TYPES:
                        err((i, "recipients", j, "field"), f"field '{f.name}' is a {f.type} field, not a user field")
                elif "over" in recipient:
                    f = entity.field(recipient["over"]) if entity is not None else None
                    if f is None or f.type not in (*USER_TYPES, "department"):
                        problem = f"'{recipient['over']}' is not a user field (nor a department field) of the record"
                        err((i, "recipients", j, "over"), problem)
                elif "contact" in recipient:
                    if entity is None:
                        err((i, "recipients", j, "contact"), "a contact is read from the rule's record: set 'entity'")
                        continue
                    for problem in check_contact(entity, recipient["contact"], pack.entities):
                        err((i, "recipients", j, "contact"), problem)
            for part in ("title", "body"):
                for problem in template_problems(action.get(part) or "", here):
                    err((i, part), problem)
        elif kind == "start_workflow":
            exprs((i, "data"), action.get("data") or {}, here)
            for name, spec in (action.get("users") or {}).items():
                for problem in check_expression(spec["departments"], here):
                    err((i, "users", name, "departments"), f"expression does not compile: {problem}")
        elif kind == "webhook":
            for path, source in body_expressions(action.get("body") or {}):
                for problem in check_expression(source, here):
                    err((i, "body", *path), f"expression does not compile: {problem}")
            for name, problem in header_problems(action.get("headers") or {}, _declared_param):
                err((i, "headers", name), problem)
            url = action.get("url", "")
            if url.startswith("param:") and not _declared_param(url.removeprefix("param:")):
                err((i, "url"), f"unknown system parameter '{url.removeprefix('param:')}'")
    return errors


def _part_expressions(action: dict[str, Any], part: str) -> list[tuple[tuple, str]]:
    """(path, expression) of one part of an action; a webhook body may nest (paths of several keys)."""
    if part == "body":
        return list(body_expressions(action.get("body") or {}))
    return [((key,), source) for key, source in (action.get(part) or {}).items()]


def _declared_param(key: str) -> bool:
    """A system parameter some part of the platform declared (runtime.params.declare)."""
    from runtime.params import DECLARED

    return key in DECLARED


def _user_field(pack: Any, entity: Any, path: str) -> Any:
    """The field a recipient names: a field of the record or ``reference.field`` one reference away."""
    if entity is None:
        return None
    head, _, tail = path.partition(".")
    f = entity.field(head)
    if not tail or f is None:
        return f
    target = pack.entities.get(f.opt("entity") or "") if f.type == "reference" else None
    return target.field(tail) if target is not None else None


def lookup_names(
    pack: Any, action: dict[str, Any], allowed: list[str] | None, problems: list[tuple[tuple, str]]
) -> tuple[list | None, dict]:
    """Check an action's lookups in order; the names the action may then read, and name -> looked-up entity."""
    specs = action["lookup"] if isinstance(action["lookup"], list) else [action["lookup"]]
    here = allowed
    found: dict[str, Any] = {}
    for j, spec in enumerate(specs):
        where = (j,) if isinstance(action["lookup"], list) else ()
        problems += [((*where, *at), message) for at, message in check_lookup(pack, spec, here, found)]
        name = spec.get("as", LOOKUP_NAME)
        here = None if here is None else [*here, name]
        if pack.entities.get(spec["entity"]) is not None:
            found[name] = pack.entities[spec["entity"]]
    return here, found


def check_lookup(
    pack: Any, spec: dict[str, Any], allowed: list[str] | None, earlier: dict[str, Any] | None = None
) -> list[tuple[tuple, str]]:
    """The looked-up entity, its order_by field and the fields read as rule["x"] must exist; 'where' compiles."""
    target = pack.entities.get(spec["entity"])
    if target is None:
        return [(("entity",), f"unknown entity '{spec['entity']}' (not an entity of this pack)")]
    problems: list[tuple[tuple, str]] = []
    order = (spec.get("order_by") or "").lstrip("-")
    if order and order not in {f.name for f in target.fields} | set(EXTRA_NAMES):
        problems.append((("order_by",), f"unknown field '{order}' of entity '{target.id}'"))
    name = spec.get("as", LOOKUP_NAME)
    part = "where" if spec.get("where") else "id"
    names = None if allowed is None else [*allowed, name] if part == "where" else allowed
    compiled = check_expression(spec[part], names)
    problems += [((part,), f"expression does not compile: {p}") for p in compiled]
    if not compiled:
        readable = {**(earlier or {}), **({name: target} if part == "where" else {})}
        for var, entity in readable.items():
            known = {f.name for f in entity.fields} | set(EXTRA_NAMES)
            for used in subscripts(spec[part], var):
                if used not in known:
                    problems.append(((part,), f"unknown field '{used}' of entity '{entity.id}' in {var}[\"{used}\"]"))
    return problems


def subscripts(source: str, name: str) -> list[str]:
    """The constant keys read from ``name`` in an expression: rule["level"] -> level."""
    found = []
    for node in ast.walk(ast.parse(source.strip(), mode="eval")):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == name
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            found.append(node.slice.value)
    return found


def _check_write(
    pack: Any, rel: str, action: dict[str, Any], entity: Any, target: Any, base: tuple, allowed: list[str] | None
) -> list[PackError]:
    """create_record, update_record, upsert_record: the fields, expressions, form and link field."""
    errors: list[PackError] = []

    def err(where: tuple, message: str) -> None:
        errors.append(PackError(rel, pointer(*base, *where), message))

    known = {f.name for f in target.fields}
    for part in ("values", "match"):
        for name in action.get(part) or {}:
            if name not in known:
                err((part, name), f"unknown field '{name}' of entity '{target.id}'")
    with_target = allowed if allowed is None or action["type"] == "create_record" else [*allowed, "target"]
    sources = [("values", action["values"], with_target), ("match", action.get("match") or {}, allowed)]
    sources.append(((), {"record": action["record"]} if action.get("record") else {}, allowed))
    for part, values, names in sources:
        for name, source in values.items():
            for problem in check_expression(source, names):
                err((*([part] if part else []), name), f"expression does not compile: {problem}")
    if action.get("form"):
        form = pack.forms.get(action["form"])
        if form is None or form.entity != target.id:
            err(("form",), f"'{action['form']}' is not a form of entity '{target.id}'")
    if action.get("link_field"):
        link = entity.field(action["link_field"]) if entity is not None else None
        if link is None or link.type != "reference" or link.opt("entity") != target.id:
            message = f"'{action['link_field']}' is not a reference field to '{target.id}' of the acting record"
            err(("link_field",), message)
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
