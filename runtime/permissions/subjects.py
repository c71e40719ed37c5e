"""Who is acting: the user's roles (incl. inherited), department, department subtree and organisation.

Loaded from the database by user id and cached briefly (a few seconds) per process; the admin
service invalidates the cache at once when it changes users, roles or departments, so in the process
that made the change the next request sees it; other worker processes see it when the cache expires.

Contexts without a user id are the platform itself (system, rules, workflows, demo loading, CLI):
they run with full rights. Every HTTP request builds its context from the signed-in user
(runtime.api.deps.context), so no request reaches the records service without a user id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from runtime.permissions.model import with_ancestors
from runtime.records.context import Context
from runtime.registry import Registry
from runtime.storage import platform_tables as pt
from runtime.storage.database import Database

CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Subject:
    user_id: int | None
    platform: bool = False
    """An in-process caller without a user (system, rule, workflow): full rights."""
    is_admin: bool = False
    active: bool = True
    department_id: int | None = None
    organisation: str | None = None
    roles: frozenset[str] = frozenset()
    """Effective roles: the assigned ones (restricted by ctx.roles) plus every ancestor."""
    rights: frozenset[str] = frozenset()

    @property
    def unrestricted(self) -> bool:
        return self.platform or self.is_admin


@dataclass(frozen=True)
class _UserFacts:
    active: bool
    is_admin: bool
    department_id: int | None
    organisation: str | None
    role_ids: frozenset[str]


@dataclass
class DepartmentTree:
    """The department tree in memory: parents, organisations (inherited downwards), subtrees."""

    parents: dict[int, int | None] = field(default_factory=dict)
    organisations: dict[int, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.children: dict[int, list[int]] = {}
        for dept, parent in self.parents.items():
            if parent is not None:
                self.children.setdefault(parent, []).append(dept)
        self._subtrees: dict[int, frozenset[int]] = {}

    def subtree(self, dept: int | None) -> frozenset[int]:
        """The department and all its descendants."""
        if dept is None:
            return frozenset()
        cached = self._subtrees.get(dept)
        if cached is None:
            out, stack = {dept}, [dept]
            while stack:
                for child in self.children.get(stack.pop(), []):
                    if child not in out:
                        out.add(child)
                        stack.append(child)
            cached = self._subtrees[dept] = frozenset(out)
        return cached

    def ancestors(self, dept: int) -> list[int]:
        out: list[int] = []
        current = self.parents.get(dept)
        while current is not None and current not in out and current != dept:
            out.append(current)
            current = self.parents.get(current)
        return out

    def organisation_of(self, dept: int | None) -> str | None:
        """A department's organisation, or the nearest ancestor's."""
        if dept is None:
            return None
        for d in [dept, *self.ancestors(dept)]:
            if self.organisations.get(d):
                return self.organisations[d]
        return None

    def in_organisation(self, organisation: str) -> frozenset[int]:
        return frozenset(d for d in self.parents if self.organisation_of(d) == organisation)


class SubjectLoader:
    def __init__(self, db: Database, registry: Registry, *, cache_seconds: float = CACHE_SECONDS):
        self.db = db
        self.registry = registry
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._users: dict[int, tuple[float, _UserFacts | None]] = {}
        self._tree: tuple[float, DepartmentTree] | None = None

    # invalidation -------------------------------------------------------------------------------
    def invalidate(self, user_ids: Iterable[int] | None = None) -> None:
        """Forget cached users (all when None): called after every change to users or their roles."""
        with self._lock:
            if user_ids is None:
                self._users.clear()
            else:
                for uid in user_ids:
                    self._users.pop(uid, None)

    def invalidate_departments(self) -> None:
        with self._lock:
            self._tree = None
            self._users.clear()

    # loading ------------------------------------------------------------------------------------
    def tree(self) -> DepartmentTree:
        now = time.monotonic()
        cached = self._tree
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(pt.departments.c.id, pt.departments.c.parent_id, pt.departments.c.organisation)
            ).all()
        tree = DepartmentTree({r.id: r.parent_id for r in rows}, {r.id: r.organisation for r in rows})
        with self._lock:
            self._tree = (now, tree)
        return tree

    def _facts(self, user_id: int) -> _UserFacts | None:
        now = time.monotonic()
        cached = self._users.get(user_id)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        u = pt.users.c
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(u.active, u.is_admin, u.department_id, u.organisation).where(u.id == user_id)
            ).first()
            role_ids = frozenset(
                conn.execute(sa.select(pt.user_roles.c.role_id).where(pt.user_roles.c.user_id == user_id)).scalars()
            )
        facts = None
        if row is not None:
            facts = _UserFacts(bool(row.active), bool(row.is_admin), row.department_id, row.organisation, role_ids)
        with self._lock:
            self._users[user_id] = (now, facts)
        return facts

    def subject(self, ctx: Context) -> Subject:
        roles = self.registry.roles
        if ctx.user_id is None:
            if ctx.roles is None:
                return Subject(None, platform=True, is_admin=True)
            effective = with_ancestors(ctx.roles, roles)
            return Subject(None, roles=effective, rights=_rights(effective, roles))
        if ctx.is_admin and ctx.roles is None:
            return Subject(ctx.user_id, is_admin=True, department_id=ctx.department_id, rights=frozenset({"admin"}))
        facts = self._facts(ctx.user_id)
        if facts is None or not facts.active:
            return Subject(ctx.user_id, active=False)
        assigned: Iterable[str] = facts.role_ids
        if ctx.roles is not None:
            # a token may name a role the user holds or inherits (a manager's token limited to 'liaison')
            held = with_ancestors(facts.role_ids, roles)
            assigned = set(ctx.roles) if ctx.is_admin else held & set(ctx.roles)
        effective = with_ancestors(assigned, roles)
        dept = facts.department_id if facts.department_id is not None else ctx.department_id
        org = facts.organisation or self.tree().organisation_of(dept) or ctx.organisation
        return Subject(
            ctx.user_id,
            department_id=dept,
            organisation=org,
            roles=effective,
            rights=_rights(effective, roles),
        )


def _rights(role_ids: frozenset[str], roles: dict) -> frozenset[str]:
    return frozenset(r for rid in role_ids for r in roles[rid].rights)
