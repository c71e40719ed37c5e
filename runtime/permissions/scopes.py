"""Data scopes as SQL: which rows of an entity table a subject may see or change.

Every scope includes the subject's own records; the broader ones add records by department:
own (owner_id), department (the user's department), subtree (the department and its descendants),
organisation (departments of the user's hospital, organisation inherited down the tree), all.

An entity may name the fields that say whose a record is (entity keys, see `Ownership`):
- owner_field, a user field (a hospital's liaison): 'own' means that user, or the creator (owner_id) while
  the field is empty; a department scope includes the records owned by users of those departments.
  Assigning the record to someone else therefore moves it out of the previous owner's scope.
- department_field, a department field (a patient's responsible team): department scopes match it, or
  the creator's department (department_id) while it is empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from runtime.blueprints.model import Entity
from runtime.permissions.subjects import DepartmentTree, Subject
from runtime.storage import platform_tables as pt


@dataclass(frozen=True)
class Ownership:
    """Which of an entity's fields say whose a record is (None: the system columns alone)."""

    owner_field: str | None = None
    department_field: str | None = None

    @classmethod
    def of(cls, entity: Entity) -> Ownership:
        return cls(entity.raw.get("owner_field"), entity.raw.get("department_field"))


def scope_clause(
    scope: str | None,
    subject: Subject,
    tree: DepartmentTree,
    table: sa.Table,
    ownership: Ownership = Ownership(),  # noqa: B008 - frozen, shared safely
) -> sa.ColumnElement[bool] | None:
    """The SQL condition for a scope: None for 'all' (no condition); a scope of None (the action is not
    allowed) matches nothing."""
    if scope is None:
        return sa.false()
    if scope == "all":
        return None
    owner = _column(table, ownership.owner_field)
    department = _column(table, ownership.department_field)
    own = _own(table, owner, subject)
    departments = departments_in_scope(scope, subject, tree)
    if not departments:
        return own
    return sa.or_(own, _in_departments(table, owner, department, sorted(departments)))


def _column(table: sa.Table, name: str | None) -> sa.Column | None:
    return table.c[name] if name and name in table.c else None


def _own(table: sa.Table, owner: sa.Column | None, subject: Subject) -> sa.ColumnElement[bool]:
    if subject.user_id is None:
        return sa.false()
    if owner is None:
        return table.c.owner_id == subject.user_id
    return sa.or_(owner == subject.user_id, sa.and_(owner.is_(None), table.c.owner_id == subject.user_id))


def _in_departments(
    table: sa.Table, owner: sa.Column | None, department: sa.Column | None, departments: list[int]
) -> sa.ColumnElement[bool]:
    """Records whose department is one of `departments`: the department field, the owner's department, or,
    for records with neither, the department they were created in."""
    unassigned = [c.is_(None) for c in (owner, department) if c is not None]
    terms = [sa.and_(table.c.department_id.in_(departments), *unassigned)]
    if department is not None:
        terms.append(department.in_(departments))
    if owner is not None:
        members = sa.select(pt.users.c.id).where(pt.users.c.department_id.in_(departments))
        terms.append(owner.in_(members))
    return sa.or_(*terms)


def departments_in_scope(scope: str, subject: Subject, tree: DepartmentTree) -> frozenset[int]:
    if scope == "department":
        return frozenset({subject.department_id}) if subject.department_id is not None else frozenset()
    if scope == "subtree":
        return tree.subtree(subject.department_id)
    if scope == "organisation":
        return tree.in_organisation(subject.organisation) if subject.organisation else frozenset()
    return frozenset()
