"""Rows of a running workflow: the instance (serialized state, optimistic version), its inbox tasks,
timer due times, message routes and history events. Plain functions on an open connection, so the host
writes all of them in the transaction of the step that changed them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.errors import Conflict, NotFound
from runtime.storage import platform_tables as pt

OPEN = ("ready", "claimed")
ACTIVE = ("running", "waiting")

# Statements built once: a reused statement keeps its cache key, so each step pays only for executing them.
_I, _T, _E = pt.wf_instances, pt.wf_tasks, pt.wf_events
_INSERT_INSTANCE = _I.insert()
_LOAD_INSTANCE = sa.select(_I).where(_I.c.id == sa.bindparam("b_id"))
_LOAD_INSTANCE_LOCKED = _LOAD_INSTANCE.with_for_update()
_SAVE_INSTANCE = _I.update().where(_I.c.id == sa.bindparam("b_id"), _I.c.version == sa.bindparam("b_version"))
_LOAD_TASK = sa.select(_T).where(_T.c.id == sa.bindparam("b_id"))
_INSERT_TASK = _T.insert()
_UPDATE_TASK = _T.update().where(_T.c.id == sa.bindparam("b_id"))
_TASK_STATES = sa.select(_T.c.spiff_id, _T.c.id, _T.c.status).where(_T.c.instance_id == sa.bindparam("b_id"))
_INSERT_EVENT = _E.insert()
_EVENTS = sa.select(_E).where(_E.c.instance_id == sa.bindparam("b_id")).order_by(_E.c.id)
_TASKS_OF = sa.select(_T).where(_T.c.instance_id == sa.bindparam("b_id")).order_by(_T.c.id)


def insert_instance(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(_INSERT_INSTANCE, values).inserted_primary_key[0])


def load_instance(conn: Connection, instance_id: int, *, lock: bool = False) -> dict[str, Any]:
    q = _LOAD_INSTANCE_LOCKED if lock and conn.dialect.name == "postgresql" else _LOAD_INSTANCE
    row = conn.execute(q, {"b_id": instance_id}).mappings().first()
    if row is None:
        raise NotFound(f"no workflow instance #{instance_id}")
    return dict(row)


def save_instance(conn: Connection, instance: dict[str, Any], changes: dict[str, Any]) -> None:
    """Write the new state only if nobody else saved this instance since it was loaded."""
    params = {**changes, "version": instance["version"] + 1, "b_id": instance["id"], "b_version": instance["version"]}
    result = conn.execute(_SAVE_INSTANCE, params)
    if result.rowcount != 1:
        raise Conflict(f"workflow instance #{instance['id']} was changed by someone else meanwhile; try again")
    instance.update(changes, version=instance["version"] + 1)


def load_task(conn: Connection, task_id: int) -> dict[str, Any]:
    row = conn.execute(_LOAD_TASK, {"b_id": task_id}).mappings().first()
    if row is None:
        raise NotFound(f"no workflow task #{task_id}")
    return dict(row)


def open_tasks(conn: Connection, instance_id: int) -> dict[str, dict[str, Any]]:
    t = pt.wf_tasks
    rows = conn.execute(sa.select(t).where(t.c.instance_id == instance_id, t.c.status.in_(OPEN))).mappings()
    return {r["spiff_id"]: dict(r) for r in rows}


def task_states(conn: Connection, instance_id: int) -> dict[str, tuple[int, str]]:
    """spiff task id -> (our task id, status) for every inbox row of the instance."""
    return {r.spiff_id: (r.id, r.status) for r in conn.execute(_TASK_STATES, {"b_id": instance_id})}


def insert_task(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(_INSERT_TASK, values).inserted_primary_key[0])


def update_task(conn: Connection, task_id: int, **values: Any) -> None:
    conn.execute(_UPDATE_TASK, {**values, "b_id": task_id})


def cancel_tasks(conn: Connection, ids: list[int]) -> None:
    if ids:
        conn.execute(sa.update(pt.wf_tasks).where(pt.wf_tasks.c.id.in_(ids)).values(status="cancelled"))


def replace_timers(conn: Connection, instance_id: int, timers: dict[str, datetime]) -> None:
    t = pt.wf_timers
    current = {r.spiff_id: r.due_at for r in conn.execute(sa.select(t).where(t.c.instance_id == instance_id))}
    gone = [k for k in current if k not in timers]
    if gone:
        conn.execute(sa.delete(t).where(t.c.instance_id == instance_id, t.c.spiff_id.in_(gone)))
    for spiff_id, due in timers.items():
        if spiff_id not in current:
            conn.execute(sa.insert(t).values(instance_id=instance_id, spiff_id=spiff_id, due_at=due))
        elif current[spiff_id] != due:
            conn.execute(
                sa.update(t).where(t.c.instance_id == instance_id, t.c.spiff_id == spiff_id).values(due_at=due)
            )


def due_instances(conn: Connection, now: datetime) -> list[int]:
    """Instances with a timer due at ``now`` (an indexed range query on due_at)."""
    t = pt.wf_timers
    return sorted(set(conn.execute(sa.select(t.c.instance_id).where(t.c.due_at <= now)).scalars()))


def replace_messages(conn: Connection, instance_id: int, routes: set[tuple[str, str]]) -> None:
    t = pt.wf_messages
    conn.execute(sa.delete(t).where(t.c.instance_id == instance_id))
    for name, key in sorted(routes):
        conn.execute(sa.insert(t).values(name=name, correlation_key=key, instance_id=instance_id))


def message_targets(conn: Connection, name: str, key: str) -> list[int]:
    t = pt.wf_messages
    q = sa.select(t.c.instance_id).where(t.c.name == name, t.c.correlation_key == key)
    return sorted(set(conn.execute(q).scalars()))


def add_event(
    conn: Connection,
    instance_id: int,
    at: datetime,
    kind: str,
    *,
    actor_id: int | None = None,
    element_id: str | None = None,
    **detail: Any,
) -> None:
    values = {"instance_id": instance_id, "at": at, "kind": kind, "actor_id": actor_id, "element_id": element_id}
    conn.execute(_INSERT_EVENT, {**values, "detail": detail})


def events(conn: Connection, instance_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(_EVENTS, {"b_id": instance_id}).mappings()]


def tasks_of(conn: Connection, instance_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(_TASKS_OF, {"b_id": instance_id}).mappings()]


def clear_routes(conn: Connection, instance_id: int) -> None:
    conn.execute(sa.delete(pt.wf_timers).where(pt.wf_timers.c.instance_id == instance_id))
    conn.execute(sa.delete(pt.wf_messages).where(pt.wf_messages.c.instance_id == instance_id))
