"""Who gets a record: one function, ``assign``, shared by pools, rules, follow-ups and state machines.

Specs (PL-12):

* ``{"user": "zhangsan"}``: that user (by username).
* ``{"field": "attending_doctor"}``: the user in a user field of the record; ``{"owner": true}``: its owner.
* ``{"role": "liaison", "strategy": "round_robin" | "load_balanced", "department": "@record" | <id>}``:
  among the active users holding the role (optionally in the record's / a given department):

  - round robin keeps a cursor per spec key in ``tessera_assignment_cursors``. The cursor row is
    incremented with an UPDATE inside the caller's transaction, so two concurrent writers serialise
    on its row lock (PostgreSQL) or on the database write lock (SQLite) and never pick the same turn.
  - load balanced picks the user holding the fewest open records (``holder_field`` of ``entity``,
    default ``owner_id``, filtered by ``open_when``), counted with one GROUP BY in the database.
* ``{"role": "supervisor", "over": "staff"}``: the holders nearest above the user in the field ``staff``
  (same department, else the nearest parent department with a holder): an escalation target.
* ``{"role": "doctor", "department_code": "<expression>"}``: the holders in the department with that code (the
  ward's doctors), else every holder.
* ``{"rules": [{"when": "<expression>", "assign": {...}}], "default": {...}}``: the first match.

Returns a user id, or None when nobody fits (no such user, no holder of the role, no rule matches).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.automation.pools.tables import assignment_cursors
from runtime.automation.scores.where import where_clause
from runtime.errors import BadRequest
from runtime.expressions import ExpressionError, compile_expression
from runtime.storage import platform_tables as pt

STRATEGIES = ("round_robin", "load_balanced")


def assign(app: Any, conn: Connection, spec: dict, record: dict | None, *, entity: str | None = None) -> int | None:
    """The user id ``spec`` designates for ``record`` (of ``entity``), inside ``conn``'s transaction."""
    record = record or {}
    if not isinstance(spec, dict):
        raise BadRequest(f"an assignment must be an object, got {spec!r}")
    if "rules" in spec:
        for rule in spec["rules"]:
            try:
                matched = compile_expression(rule["when"]).evaluate(record, clock=app.clock)
            except ExpressionError as exc:
                raise BadRequest(f"assignment rule '{rule.get('when')}': {exc}") from None
            if matched:
                return assign(app, conn, rule["assign"], record, entity=entity)
        return assign(app, conn, spec["default"], record, entity=entity) if spec.get("default") else None
    if "user" in spec:
        u = pt.users.c
        found = conn.execute(sa.select(u.id).where(u.username == str(spec["user"]), u.active.is_(True))).scalar()
        return None if found is None else int(found)
    if "field" in spec:
        return _user_id(record.get(spec["field"]))
    if spec.get("owner"):
        return _user_id(record.get("owner_id"))
    if "role" in spec:
        if spec.get("over"):
            candidates = holders_over(app, conn, spec["role"], record.get(spec["over"]))
        elif spec.get("department_code"):
            candidates = holders_by_code(app, conn, spec["role"], spec["department_code"], record)
        else:
            candidates = role_holders(conn, spec["role"], _department(spec, record))
        if not candidates:
            return None
        strategy = spec.get("strategy", "round_robin")
        if strategy == "round_robin":
            return _round_robin(app, conn, cursor_key(spec, record), candidates)
        if strategy == "load_balanced":
            return _least_loaded(app, conn, spec, entity, candidates)
        raise BadRequest(f"unknown assignment strategy '{strategy}' (known: {', '.join(STRATEGIES)})")
    raise BadRequest(f"an assignment names user, field, owner, role or rules; got {json.dumps(spec)[:200]}")


def _user_id(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _department(spec: dict, record: dict) -> int | None:
    dept = spec.get("department")
    if dept is None:
        return None
    if dept == "@record":
        return _user_id(record.get("department_id")) or -1  # a record without department: nobody qualifies
    if isinstance(dept, str) and dept.startswith("@"):
        return _user_id(record.get(dept[1:])) or -1
    return _user_id(dept)


def holders_over(app: Any, conn: Connection, role: str, user_id: Any) -> list[int]:
    """``{"role": r, "over": "staff"}``: the holders of ``r`` nearest above the user a field names, i.e. in
    that user's department, else in the nearest parent department that has any (a caller's supervisor, then
    the manager). Every holder when the field names nobody or no department has one: an escalation still
    reaches someone."""
    uid = _user_id(user_id)
    dept = conn.execute(sa.select(pt.users.c.department_id).where(pt.users.c.id == uid)).scalar() if uid else None
    if dept is not None:
        for department in [dept, *app.permissions.subjects.tree().ancestors(dept)]:
            found = role_holders(conn, role, department)
            if found:
                return found
    return role_holders(conn, role)


def holders_by_code(app: Any, conn: Connection, role: str, source: str, record: dict) -> list[int]:
    """``{"role": "doctor", "department_code": "concat('WARD-', upper(ward))"}``: the holders in the department
    whose code the expression gives for the record (the ward's doctors for a patient of that ward); every holder
    when that department has none or does not exist, so an alert still reaches a doctor."""
    try:
        code = compile_expression(source).evaluate(record, clock=app.clock)
    except ExpressionError as exc:
        raise BadRequest(f"assignment department_code '{source}': {exc}") from None
    d = pt.departments.c
    dept = conn.execute(sa.select(d.id).where(d.code == str(code)).order_by(d.id).limit(1)).scalar() if code else None
    found = role_holders(conn, role, int(dept)) if dept is not None else []
    return found or role_holders(conn, role)


def role_holders(conn: Connection, role: str, department_id: int | None = None) -> list[int]:
    """Active users holding ``role`` (in ``department_id`` if given), by id: the round-robin order."""
    u, ur = pt.users.c, pt.user_roles.c
    q = (
        sa.select(u.id)
        .join(pt.user_roles, ur.user_id == u.id)
        .where(ur.role_id == role, u.active.is_(True))
        .order_by(u.id)
    )
    if department_id is not None:
        q = q.where(u.department_id == department_id)
    return [int(r) for r in conn.execute(q).scalars()]


def cursor_key(spec: dict, record: dict) -> str:
    """One cursor per spec (its ``key``, else role + department), so two pools of one role share turns only
    when they say so."""
    if spec.get("key"):
        return str(spec["key"])[:200]
    dept = _department(spec, record)
    return f"role:{spec['role']}" + (f":dept:{dept}" if dept is not None else "")


def _round_robin(app: Any, conn: Connection, key: str, candidates: list[int]) -> int:
    c = assignment_cursors.c
    now = app.clock.now()
    bumped = conn.execute(
        sa.update(assignment_cursors).where(c.key == key).values(position=c.position + 1, updated_at=now)
    ).rowcount
    if not bumped:
        insert = _insert_ignore(conn)(assignment_cursors).values(key=key, position=1, updated_at=now)
        if conn.execute(insert.on_conflict_do_nothing(index_elements=["key"])).rowcount != 1:
            # a concurrent writer created it first: take our turn after theirs (its row lock serialises us)
            conn.execute(
                sa.update(assignment_cursors).where(c.key == key).values(position=c.position + 1, updated_at=now)
            )
    position = conn.execute(sa.select(c.position).where(c.key == key)).scalar_one()
    return candidates[(int(position) - 1) % len(candidates)]


def _insert_ignore(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _least_loaded(app: Any, conn: Connection, spec: dict, entity_id: str | None, candidates: list[int]) -> int:
    entity_id = spec.get("entity") or entity_id
    if not entity_id:
        raise BadRequest("load-balanced assignment needs the entity whose open records are counted")
    entity = app.registry.entity(entity_id)
    table = app.registry.tables[entity_id].main
    holder = table.c[spec.get("holder_field", "owner_id")]
    q = sa.select(holder, sa.func.count()).where(holder.in_(candidates)).group_by(holder)
    if spec.get("open_when"):
        q = q.where(where_clause(spec["open_when"], entity, table))
    load = {int(user): int(n) for user, n in conn.execute(q)}
    return min(candidates, key=lambda user: (load.get(user, 0), user))
