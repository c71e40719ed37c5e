"""Cross-reference checks of state_machines/ documents: the entity, its state field, states named by
transitions, forms, guards and effects must exist and compile (file + JSON pointer + sentence)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from runtime.automation.rules.checks import check_actions, field_names
from runtime.blueprints.errors import PackError, pointer
from runtime.expressions import check_expression


@cache
def _action_validator() -> Draft202012Validator:
    from referencing import Registry, Resource

    from runtime.blueprints.kinds import schema_of
    from runtime.blueprints.schema import SCHEMA_ID, pack_schema

    rule = schema_of("rule")
    registry = Registry().with_resource(SCHEMA_ID, Resource.from_contents(pack_schema()))
    return Draft202012Validator(
        {**rule, "$ref": "#/$defs/action", "required": [], "properties": {}, "additionalProperties": True},
        registry=registry,
    )


def check_state_machines(pack: Any, documents: dict[str, dict[str, Any]]) -> list[PackError]:
    errors: list[PackError] = []
    owners: dict[str, str] = {}
    for rel, doc in sorted(documents.items()):
        if not doc.get("field"):  # an action set: its actions keep the state, any number per entity
            errors.extend(_check(pack, rel, doc))
            continue
        if doc["entity"] in owners:
            errors.append(
                PackError(
                    rel,
                    "/entity",
                    f"entity '{doc['entity']}' already has a state machine ({owners[doc['entity']]}); one per entity",
                )
            )
        owners.setdefault(doc["entity"], rel)
        errors.extend(_check(pack, rel, doc))
    seen: dict[tuple[str, str], str] = {}
    for rel, doc in sorted(documents.items()):
        for i, t in enumerate(doc.get("transitions") or []):
            first = seen.setdefault((doc["entity"], t["id"]), rel)
            if first != rel:
                errors.append(PackError(rel, pointer("transitions", i, "id"), f"action '{t['id']}' is also in {first}"))
    return errors


def _check(pack: Any, rel: str, doc: dict[str, Any]) -> list[PackError]:
    errors: list[PackError] = []

    def err(where: tuple, message: str) -> None:
        errors.append(PackError(rel, pointer(*where), message))

    entity = pack.entities.get(doc["entity"])
    if entity is None:
        err(("entity",), f"unknown entity '{doc['entity']}' (not an entity of this pack)")
        return errors
    stateful = bool(doc.get("field"))
    if stateful and entity.field(doc["field"]) is None:
        err(("field",), f"unknown field '{doc['field']}' of entity '{entity.id}'")
    states = [s["value"] for s in doc.get("states") or []]
    if len(set(states)) != len(states):
        err(("states",), "state values must be unique")
    if stateful and doc["initial"] not in states:
        err(("initial",), f"initial state '{doc['initial']}' is not one of the states {states}")
    allowed = field_names(entity)
    seen: set[str] = set()
    for i, t in enumerate(doc["transitions"]):
        base = ("transitions", i)
        if t["id"] in seen:
            err((*base, "id"), f"duplicate transition id '{t['id']}'")
        seen.add(t["id"])
        for j, state in enumerate(t.get("from") or []):
            if state != "*" and state not in states:
                where = f"states: {', '.join(states)}" if stateful else "this action set has no states; use '*'"
                err((*base, "from", j), f"unknown state '{state}' ({where})")
        to = t.get("to", "*")
        if to != "*" and not stateful:
            err((*base, "to"), "an action set without 'field' and 'states' cannot change the state; omit 'to'")
        elif to != "*" and to not in states:
            err((*base, "to"), f"unknown state '{to}' (states: {', '.join(states)})")
        for j, role in enumerate(t.get("roles") or []):
            if pack.roles and role not in pack.roles:
                err((*base, "roles", j), f"unknown role '{role}'")
        if t.get("guard"):
            for problem in check_expression(t["guard"], allowed):
                err((*base, "guard"), f"guard does not compile: {problem}")
        here = allowed
        if t.get("form"):
            form = pack.forms.get(t["form"])
            if form is None:
                err((*base, "form"), f"unknown form '{t['form']}'")
            elif form.entity != entity.id:  # another entity's form: its fields are the input names
                here = [*allowed, *form.field_names]
        if t.get("pool"):
            errors.extend(_check_pool(pack, rel, doc, t, base))
            if t.get("background"):
                err((*base, "background"), "a pool operation runs at once (its caps are checked as it happens)")
        known = {f.name for f in entity.fields}
        for name, source in (t.get("set") or {}).items():
            if name not in known:
                err((*base, "set", name), f"unknown field '{name}' of entity '{entity.id}'")
            for problem in check_expression(source, here):
                err((*base, "set", name), f"expression does not compile: {problem}")
        effects = t.get("effects") or []
        bad = False
        for j, effect in enumerate(effects):
            problems = sorted(_action_validator().iter_errors(effect), key=lambda e: list(e.path))
            if problems:
                bad = True
                err((*base, "effects", j), f"not a valid rule action: {problems[0].message}")
        if not bad:
            errors.extend(check_actions(pack, rel, effects, entity, (*base, "effects"), here))
    return errors


def _check_pool(pack: Any, rel: str, doc: dict[str, Any], t: dict[str, Any], base: tuple) -> list[PackError]:
    """A pool operation action: the pool exists for this entity and the action lands in the state the pool
    writes; the pool does the write, so the action has no set or effects."""
    where = (*base, "pool")
    pool = (getattr(pack, "extras", {}).get("pool") or {}).get(t["pool"]["id"])
    if pool is None:
        return [PackError(rel, pointer(*where, "id"), f"unknown pool '{t['pool']['id']}'")]
    if pool["entity"] != doc["entity"]:
        return [PackError(rel, pointer(*where, "id"), f"pool '{pool['id']}' is a pool of '{pool['entity']}'")]
    errors = []
    operation = t["pool"]["operation"]
    lands = pool.get("held_value") if operation in ("claim", "assign") else (pool.get("pool_values") or [None])[0]
    if doc.get("field") and pool.get("status_field") and doc["field"] != pool["status_field"]:
        message = f"pool '{pool['id']}' keeps its state in '{pool['status_field']}'"
        errors.append(PackError(rel, pointer(*where), message))
    elif lands is not None and t.get("to", "*") != lands:
        message = f"the pool's {operation} sets the state '{lands}': use it as 'to'"
        errors.append(PackError(rel, pointer(*base, "to"), message))
    for part in ("set", "effects"):
        if t.get(part):
            message = f"a pool operation action has no '{part}' (the pool writes)"
            errors.append(PackError(rel, pointer(*base, part), message))
    return errors
