"""Roles and their permissions as plain data, parsed from pack role files or admin-edited rows.

A role holds grants: entity x actions x data scope, plus field rights (read in full / write / masked).
A child role inherits every grant and right of its ancestors. A user's rights are the union over all
their roles (incl. inherited): the broadest scope per action, and the best read level per field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.blueprints.model import Entity, Label, Pack, label_text

ACTIONS: tuple[str, ...] = ("create", "read", "update", "delete", "export", "import", "print", "analyse")
WRITE_ACTIONS = ("create", "update", "delete")
SCOPES: tuple[str, ...] = ("own", "department", "subtree", "organisation", "all")
"""From narrowest to broadest."""
RIGHTS: tuple[str, ...] = ("admin", "designer", "his")
"""Global rights: admin (manage users, departments, roles), designer (edit blueprints), his (send HIS messages)."""
FULL, MASKED, HIDDEN = "full", "masked", "hidden"
_LEVEL_RANK = {HIDDEN: 0, MASKED: 1, FULL: 2}


def broader(a: str | None, b: str) -> str:
    """The broader of two scopes (None = no scope yet)."""
    if a is None:
        return b
    return a if SCOPES.index(a) >= SCOPES.index(b) else b


@dataclass(frozen=True)
class Grant:
    """One permission entry of a role."""

    entity: str  # an entity id or "*"
    actions: frozenset[str]
    scope: str
    read: frozenset[str] | None = None  # None: every field
    write: frozenset[str] | None = None  # None: every field
    masked: frozenset[str] = frozenset()

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Grant:
        actions = set(raw.get("actions", []))
        if "*" in actions:
            actions = set(ACTIONS)
        fields = raw.get("fields") or {}
        return cls(
            entity=raw["entity"],
            actions=frozenset(actions),
            scope=raw.get("scope", "own"),
            read=_names(fields.get("read", "*")),
            write=_names(fields.get("write", "*")),
            masked=frozenset(fields.get("masked", [])),
        )

    def applies_to(self, entity_id: str) -> bool:
        return self.entity in ("*", entity_id)

    def level(self, name: str) -> str:
        if name in self.masked:
            return MASKED
        if self.read is None or name in self.read:
            return FULL
        return HIDDEN

    def may_write(self, name: str) -> bool:
        return self.write is None or name in self.write


def _names(value: Any) -> frozenset[str] | None:
    if value == "*" or value is None:
        return None
    return frozenset(value)


@dataclass(frozen=True)
class Role:
    id: str
    label: Label
    parent: str | None = None
    rights: frozenset[str] = frozenset()
    permissions: tuple[dict[str, Any], ...] = ()
    """The raw permission entries, as written in the pack or by an administrator."""
    description: Label | None = None
    pack_id: str | None = None
    customised: bool = False
    """An administrator changed a shipped role: deploys keep the change until an explicit reset."""
    grants: tuple[Grant, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.grants and self.permissions:
            object.__setattr__(self, "grants", tuple(Grant.from_raw(p) for p in self.permissions))

    def label_in(self, lang: str) -> str:
        return label_text(self.label, lang)

    def document(self) -> dict[str, Any]:
        """The role in pack-file form (what the admin API shows and accepts)."""
        doc: dict[str, Any] = {"id": self.id, "label": self.label}
        if self.description is not None:
            doc["description"] = self.description
        if self.parent:
            doc["parent"] = self.parent
        if self.rights:
            doc["rights"] = sorted(self.rights)
        doc["permissions"] = [dict(p) for p in self.permissions]
        return doc

    def stored(self) -> dict[str, Any]:
        """The JSON kept in tessera_roles.permissions."""
        return {
            "permissions": [dict(p) for p in self.permissions],
            "rights": sorted(self.rights),
            "description": self.description,
            "customised": self.customised,
        }


def role_from_document(doc: Mapping[str, Any], *, pack_id: str | None = None, customised: bool = False) -> Role:
    return Role(
        id=doc["id"],
        label=doc["label"],
        parent=doc.get("parent"),
        rights=frozenset(doc.get("rights", [])),
        permissions=tuple(dict(p) for p in doc.get("permissions", [])),
        description=doc.get("description"),
        pack_id=pack_id,
        customised=customised,
    )


def role_from_row(row: Any) -> Role:
    stored = row.permissions if isinstance(row.permissions, dict) else {"permissions": row.permissions or []}
    return Role(
        id=row.id,
        label=row.label,
        parent=row.parent_id,
        rights=frozenset(stored.get("rights", [])),
        permissions=tuple(dict(p) for p in stored.get("permissions", [])),
        description=stored.get("description"),
        pack_id=row.pack_id,
        customised=bool(stored.get("customised")),
    )


def shipped_roles(packs: Mapping[str, Pack]) -> dict[str, Role]:
    """The roles the deployed packs ship. A role id used by several packs (e.g. 'administrator' in two
    packs) is one role whose permissions are the union; label and parent come from the first pack."""
    out: dict[str, Role] = {}
    for pack_id in sorted(packs):
        for rd in packs[pack_id].roles.values():
            doc = {
                "id": rd.id,
                "label": rd.label,
                "parent": rd.parent,
                "rights": rd.rights,
                "permissions": rd.permissions,
                "description": rd.raw.get("description"),
            }
            prior = out.get(rd.id)
            if prior is None:
                out[rd.id] = role_from_document(doc, pack_id=pack_id)
            else:
                out[rd.id] = Role(
                    id=prior.id,
                    label=prior.label,
                    parent=prior.parent or rd.parent,
                    rights=prior.rights | set(rd.rights),
                    permissions=prior.permissions + tuple(dict(p) for p in rd.permissions),
                    description=prior.description,
                    pack_id=prior.pack_id,
                )
    return out


def with_ancestors(role_ids: Iterable[str], roles: Mapping[str, Role]) -> frozenset[str]:
    """The roles plus every ancestor (a child role inherits its parent's permissions); unknown ids drop out."""
    out: set[str] = set()
    for rid in role_ids:
        current: str | None = rid
        while current is not None and current in roles and current not in out:
            out.add(current)
            current = roles[current].parent
    return frozenset(out)


@dataclass(frozen=True)
class EntityAccess:
    """What a set of roles may do with one entity."""

    entity: str
    scopes: Mapping[str, str]
    """action -> broadest scope; an action not present is not allowed."""
    levels: Mapping[str, str]
    """field -> full / masked / hidden (for reading)."""
    writable: Mapping[str, frozenset[str]]
    """create/update -> the fields that may be set."""

    def allows(self, action: str) -> bool:
        return action in self.scopes

    def scope(self, action: str) -> str | None:
        return self.scopes.get(action)

    def level(self, name: str) -> str:
        return self.levels.get(name, FULL)

    @property
    def restricted_fields(self) -> dict[str, str]:
        return {n: lv for n, lv in self.levels.items() if lv != FULL}


def entity_access(grants: Iterable[Grant], entity: Entity) -> EntityAccess:
    """Combine grants (from all of a user's roles) into the rights on one entity: unions everywhere."""
    mine = [g for g in grants if g.applies_to(entity.id)]
    scopes: dict[str, str] = {}
    for g in mine:
        for action in g.actions:
            scopes[action] = broader(scopes.get(action), g.scope)
    readers = [g for g in mine if "read" in g.actions]
    if "read" not in scopes and any(a in scopes for a in WRITE_ACTIONS):
        # who may create or change records sees at least their own (the service re-reads what it wrote)
        scopes["read"] = "own"
        readers = mine
    levels: dict[str, str] = {}
    for f in entity.fields:
        best = HIDDEN
        for g in readers:
            lv = g.level(f.name)
            if _LEVEL_RANK[lv] > _LEVEL_RANK[best]:
                best = lv
        levels[f.name] = best
    writable = {}
    for action in ("create", "update"):
        writers = [g for g in mine if action in g.actions]
        writable[action] = frozenset(f.name for f in entity.fields if any(g.may_write(f.name) for g in writers))
    return EntityAccess(entity.id, scopes, levels, writable)
