"""Data scopes as SQL: which rows of an entity table a subject may see or change.

Every scope includes the subject's own records; the broader ones add records by department:
own (owner_id), department (the user's department), subtree (the department and its descendants),
organisation (departments of the user's hospital, organisation inherited down the tree), all.
"""

from __future__ import annotations

import sqlalchemy as sa

from runtime.permissions.subjects import DepartmentTree, Subject


def scope_clause(
    scope: str | None, subject: Subject, tree: DepartmentTree, table: sa.Table
) -> sa.ColumnElement[bool] | None:
    """The SQL condition for a scope: None for 'all' (no condition); a scope of None (the action is not
    allowed) matches nothing."""
    if scope is None:
        return sa.false()
    if scope == "all":
        return None
    own = table.c.owner_id == subject.user_id if subject.user_id is not None else sa.false()
    departments = departments_in_scope(scope, subject, tree)
    if not departments:
        return own
    return sa.or_(own, table.c.department_id.in_(sorted(departments)))


def departments_in_scope(scope: str, subject: Subject, tree: DepartmentTree) -> frozenset[int]:
    if scope == "department":
        return frozenset({subject.department_id}) if subject.department_id is not None else frozenset()
    if scope == "subtree":
        return tree.subtree(subject.department_id)
    if scope == "organisation":
        return tree.in_organisation(subject.organisation) if subject.organisation else frozenset()
    return frozenset()
