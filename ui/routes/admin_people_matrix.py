"""A role's permissions as an entity x action matrix, and the matrix posted by the role page back to permissions.

The matrix shows the role's own grants: per entity (and the "*" row, every entity) each action's data
scope, and per field the read level (full / masked / hidden) and whether the role may write it;
what the role inherits from its parent roles is shown next to each cell but not edited here.

Writing it back gives one permission entry per (entity, scope) with the entity's field rules in each,
which reads exactly like the matrix: the engine (runtime.permissions.model.entity_access) takes read
levels from the entries that grant "read" and write rights from those that grant create/update, and
every entry of an entity carries the same rules. "*" rows carry no field lists (packs forbid them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from runtime.blueprints.model import Entity
from runtime.errors import BadRequest
from runtime.permissions.model import ACTIONS, FULL, HIDDEN, MASKED, SCOPES, Grant, Role, broader, with_ancestors
from runtime.registry import Registry

ALL = "*"
LEVELS = (FULL, MASKED, HIDDEN)
WRITERS = ("create", "update")


@dataclass
class Cell:
    action: str
    scope: str | None
    inherited: str | None = None


@dataclass
class FieldRule:
    name: str
    label: str
    level: str = FULL
    write: bool = True
    system: bool = False
    """Computed / auto-number: nobody types them in, so there is no write switch."""


@dataclass
class Row:
    entity: str
    label: str
    cells: list[Cell]
    fields: list[FieldRule] = field(default_factory=list)

    @property
    def granted(self) -> int:
        return sum(1 for c in self.cells if c.scope)

    @property
    def restricted(self) -> int:
        """How many fields are not simply full and writable (shown as a count on the collapsed rules)."""
        return sum(1 for f in self.fields if f.level != FULL or (not f.write and not f.system))


def _scopes(grants: list[Grant]) -> dict[str, str]:
    out: dict[str, str] = {}
    for g in grants:
        for action in g.actions:
            out[action] = broader(out.get(action), g.scope)
    return out


def _inherited(role: Role, roles: dict[str, Role]) -> list[Grant]:
    ancestors = with_ancestors([role.parent], roles) if role.parent else frozenset()
    return [g for rid in sorted(ancestors) for g in roles[rid].grants]


def matrix(role: Role, registry: Registry, lang: str) -> list[Row]:
    """Rows for the "*" entry and every deployed entity, in registry order."""
    inherited = _inherited(role, registry.roles)
    rows = [_row(ALL, "", [g for g in role.grants if g.entity == ALL], [g for g in inherited if g.entity == ALL], None)]
    for entity in registry.entities.values():
        own = [g for g in role.grants if g.entity == entity.id]
        parents = [g for g in inherited if g.applies_to(entity.id)]
        rows.append(_row(entity.id, entity.label_in(lang), own, parents, entity, lang))
    return rows


def _row(
    entity_id: str, label: str, own: list[Grant], parents: list[Grant], entity: Entity | None, lang: str = "zh"
) -> Row:
    scopes, above = _scopes(own), _scopes(parents)
    cells = [Cell(a, scopes.get(a), above.get(a)) for a in ACTIONS]
    row = Row(entity_id, label, cells)
    if entity is None:
        return row
    readers = [g for g in own if "read" in g.actions] or own
    writers = [g for g in own if any(a in g.actions for a in WRITERS)] or own
    for f in entity.fields:
        level = FULL
        if readers:
            ranks = [LEVELS.index(g.level(f.name)) for g in readers]
            level = LEVELS[min(ranks)]
        may_write = not writers or any(g.may_write(f.name) for g in writers)
        row.fields.append(FieldRule(f.name, f.label_in(lang), level, may_write, f.is_system_filled))
    return row


# the posted matrix --------------------------------------------------------------------------------
def permissions_from_post(post: FormData, registry: Registry) -> list[dict[str, Any]]:
    """Permission entries from the role page's inputs: ``grant.<entity>.<action>`` (checkbox),
    ``scope.<entity>.<action>`` (select), ``read.<entity>.<field>`` (select), ``write.<entity>.<field>``."""
    entries: list[dict[str, Any]] = []
    for entity_id in (ALL, *registry.entities):
        by_scope: dict[str, list[str]] = {}
        for action in ACTIONS:
            if post.get(f"grant.{entity_id}.{action}") != "1":
                continue
            scope = post.get(f"scope.{entity_id}.{action}") or "own"
            if scope not in SCOPES:
                raise BadRequest(f"unknown data scope '{str(scope)[:20]}'; use {', '.join(SCOPES)}")
            by_scope.setdefault(scope, []).append(action)
        if not by_scope:
            continue
        rules = _field_rules(post, registry.entities[entity_id], by_scope) if entity_id != ALL else {}
        for scope in SCOPES:
            if scope in by_scope:
                entry: dict[str, Any] = {"entity": entity_id, "actions": by_scope[scope], "scope": scope}
                if rules:
                    entry["fields"] = rules
                entries.append(entry)
    return entries


def _field_rules(post: FormData, entity: Entity, by_scope: dict[str, list[str]]) -> dict[str, Any]:
    levels: dict[str, str] = {}
    for f in entity.fields:
        level = post.get(f"read.{entity.id}.{f.name}") or FULL
        if level not in LEVELS:
            raise BadRequest(f"unknown read level '{str(level)[:20]}'; use {', '.join(LEVELS)}")
        levels[f.name] = level
    rules: dict[str, Any] = {}
    if any(lv == HIDDEN for lv in levels.values()):
        rules["read"] = [n for n, lv in levels.items() if lv != HIDDEN]
    masked = [n for n, lv in levels.items() if lv == MASKED]
    if masked:
        rules["masked"] = masked
    writes = any(a in WRITERS for actions in by_scope.values() for a in actions)
    typed = [f.name for f in entity.fields if not f.is_system_filled]
    writable = [n for n in typed if post.get(f"write.{entity.id}.{n}") == "1"]
    if writes and len(writable) < len(typed):
        rules["write"] = writable
    return rules
