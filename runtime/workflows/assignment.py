"""Who does a user task: lane or `role` property -> role, `assignee` expression -> user, `pool`, `form`, `due`;
`outcomes` lists the allowed outcomes ("approve,reject") and `outcome_var` names the data variable the
outcome is stored in (default ``outcome``; a multi-instance task uses its own output item).

Built-in variables the BPMN expressions may use (besides the task data):

* ``instance_id``, ``record_entity``, ``record_id``: the instance and its linked record.
* ``requester_manager``: the nearest user holding the role ``manager`` in the requester's department
  or, going up, its parent departments (the requester is ``requester`` in the task data: the starter).
* ``dept_<role>`` (e.g. ``dept_mdt_coordinator``): the same search for any role id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.storage import platform_tables as pt

MANAGER_ROLE = "manager"
DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


@dataclass(frozen=True)
class Assignment:
    role: str | None
    assignee_id: int | None
    pool: bool
    form_id: str | None
    due_at: datetime | None
    outcomes: tuple[str, ...]


def properties(task_spec: Any) -> dict[str, str]:
    return dict((getattr(task_spec, "extensions", None) or {}).get("properties", {}))


def parse_duration(text: str) -> timedelta:
    """ISO 8601 day/time durations (P2D, PT24H, P1DT12H30M); months and years are not fixed lengths."""
    match = DURATION.match(text.strip().upper())
    if match is None or not any(match.groups()):
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as PT24H or P2D")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def as_id(value: Any) -> int | None:
    """A user/record id from task data (an int or digits), or None: never a value the database would refuse."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        return None
    return value


def nearest_with_role(conn: Connection, user_id: Any, role: str) -> int | None:
    """The lowest-id active user holding ``role`` in the user's department, else in the nearest parent."""
    user_id = as_id(user_id)
    if user_id is None:
        return None
    u, d, ur = pt.users.c, pt.departments.c, pt.user_roles.c
    dept = conn.execute(sa.select(u.department_id).where(u.id == user_id)).scalar()
    seen: set[int] = set()
    while dept is not None and dept not in seen:
        seen.add(dept)
        found = conn.execute(
            sa.select(u.id)
            .join(pt.user_roles, ur.user_id == u.id)
            .where(u.department_id == dept, u.active.is_(True), ur.role_id == role, u.id != user_id)
            .order_by(u.id)
            .limit(1)
        ).scalar()
        if found is not None:
            return int(found)
        dept = conn.execute(sa.select(d.parent_id).where(d.id == dept)).scalar()
    return None


def builtin(conn: Connection, instance: dict[str, Any], name: str, data: Any) -> Any:
    """Value of a built-in variable (see the module docstring); KeyError when ``name`` is not one."""
    if name == "instance_id":
        return instance["id"]
    if name == "record_entity":
        return instance.get("entity")
    if name == "record_id":
        return instance.get("record_id")
    requester = data.get("requester", instance.get("started_by")) if hasattr(data, "get") else None
    if name == "requester_manager":
        return nearest_with_role(conn, requester, MANAGER_ROLE)
    if name.startswith("dept_") and len(name) > 5:
        return nearest_with_role(conn, requester, name[5:])
    raise KeyError(name)


def assignment(task: Any, evaluate: Any, now: datetime) -> Assignment:
    """Read the task spec's properties; ``evaluate(expression, task)`` runs the sandbox on the task data."""
    props = properties(task.task_spec)
    role = props.get("role") or getattr(task.task_spec, "lane", None)
    assignee = as_id(evaluate(props["assignee"], task)) if props.get("assignee") else None
    pool = props.get("pool", "").lower() == "true" or assignee is None
    due = now + parse_duration(props["due"]) if props.get("due") else None
    outcomes = tuple(o.strip() for o in props.get("outcomes", "").split(",") if o.strip())
    return Assignment(role, None if pool and props.get("pool") else assignee, pool, props.get("form"), due, outcomes)
