"""Rows of a running workflow: the instance (serialized state, optimistic version), its inbox tasks,
timer due times, message routes and history events. Plain functions on an open connection, so the host
writes all of them in the transaction of the step that changed them."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.errors import Conflict, NotFound
from runtime.storage import platform_tables as pt
from runtime.storage.prepared import batch_sql

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
_INSERT_TASKS = _T.insert().returning(_T.c.id, sort_by_parameter_order=True)
_TASK_WITH_INSTANCE = (
    sa.select(_T, *[c.label(f"i_{c.name}") for c in _I.c])
    .join(_I, _I.c.id == _T.c.instance_id)
    .where(_T.c.id == sa.bindparam("b_id"))
)
_TASK_WITH_INSTANCE_LOCKED = _TASK_WITH_INSTANCE.with_for_update(of=[_T, _I])


def driver_execute(conn: Connection, statements: list[str], params: dict[str, Any]) -> tuple[list[tuple], int]:
    """Run statements on the connection's DBAPI cursor in one round trip, inside its transaction: the rows and
    row count of the last one.

    For the PostgreSQL statements of a workflow step, which bind their own parameters: SQLAlchemy's execution
    context and result objects cost more than the rest of the Python side of such a statement, and each
    statement is prepared once per session (runtime/storage/prepared.py). Engine listeners still see the SQL
    sent (as in runtime/records/fetch.py) and driver errors become SQLAlchemy's exceptions (the API maps
    IntegrityError and OperationalError to their statuses)."""
    events = conn.dispatch
    cursor = conn.connection.driver_connection.cursor()
    sql = ";\n".join(statements)
    try:
        try:
            sql = batch_sql(cursor, statements)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error) from exc
        for listener in events.before_cursor_execute:
            listener(conn, cursor, sql, params, None, False)
        try:
            cursor.execute(sql, params)
            rows = cursor.fetchall() if cursor.description is not None else []
        except conn.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error) from exc
        for listener in events.after_cursor_execute:
            listener(conn, cursor, sql, params, None, False)
        return rows, cursor.rowcount
    finally:
        cursor.close()


@lru_cache(maxsize=4)
def _locked_task_sql(dialect: sa.Dialect) -> tuple[str, list[str]]:
    """The task + instance ``SELECT ... FOR UPDATE`` compiled once (pyformat parameters) and its column names."""
    compiled = _TASK_WITH_INSTANCE_LOCKED.compile(dialect=dialect)
    return compiled.string, [c.key for c in _TASK_WITH_INSTANCE_LOCKED.selected_columns]


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


def save_step(
    conn: Connection,
    instance: dict[str, Any],
    changes: dict[str, Any],
    task_done: tuple[int, dict[str, Any]] | None,
    events: list[dict[str, Any]],
) -> None:
    """A step's writes to an existing instance: the completed task, the history events and the new state.

    On PostgreSQL the three go in ONE round trip (psycopg2 runs several ;-separated statements in one
    ``execute``; parameters are bound by the driver, never pasted in); elsewhere they are three statements.
    The instance update comes last and its row count is the optimistic-version check."""
    if conn.dialect.name != "postgresql" or set(changes) - set(_STEP_COLUMNS):
        if task_done is not None:
            update_task(conn, task_done[0], **task_done[1])
        add_events(conn, events)
        save_instance(conn, instance, changes)
        return
    parts, params = [], {}
    if task_done is not None:
        task_id, values = task_done
        sets = ", ".join(f"{name} = %(t_{name})s" for name in values)
        parts.append(f"UPDATE {_T.name} SET {sets} WHERE id = %(t_id)s")
        params.update({f"t_{k}": v for k, v in values.items()}, t_id=task_id)
    if events:
        parts.append(_events_sql(events, params))
    sets = ", ".join(f"{name} = %(s_{name})s" for name in changes)
    parts.append(f"UPDATE {_I.name} SET {sets}, version = %(s_new)s WHERE id = %(s_id)s AND version = %(s_old)s")
    params.update({f"s_{k}": v for k, v in changes.items()})
    params.update(s_new=instance["version"] + 1, s_id=instance["id"], s_old=instance["version"])
    _rows, rowcount = driver_execute(conn, parts, params)
    if rowcount != 1:
        raise Conflict(f"workflow instance #{instance['id']} was changed by someone else meanwhile; try again")
    instance.update(changes, version=instance["version"] + 1)


_STEP_COLUMNS = ("state", "status", "updated_at", "error")


def _events_sql(events: list[dict[str, Any]], params: dict[str, Any], instance_sql: str | None = None) -> str:
    """One multi-row INSERT of history events for a ;-joined PostgreSQL batch (adds its parameters);
    ``instance_sql`` replaces each event's instance id (the id of the instance inserted just before)."""
    rows = []
    for n, event in enumerate(events):
        instance = instance_sql or f"%(e{n}_i)s"
        rows.append(f"({instance}, %(e{n}_at)s, %(e{n}_k)s, %(e{n}_a)s, %(e{n}_el)s, %(e{n}_d)s)")
        params.update(
            {
                f"e{n}_i": event["instance_id"],
                f"e{n}_at": event["at"],
                f"e{n}_k": event["kind"],
                f"e{n}_a": event["actor_id"],
                f"e{n}_el": event["element_id"],
                f"e{n}_d": json.dumps(event["detail"]),
            }
        )
    return f"INSERT INTO {_E.name} (instance_id, at, kind, actor_id, element_id, detail) VALUES {', '.join(rows)}"


_TASK_COLUMNS = [c.name for c in _T.c if c.name != "id"]


def insert_tasks_and_events(conn: Connection, rows: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[int]:
    """New inbox rows (their ids, in order) and the step's history events: one round trip on PostgreSQL."""
    if conn.dialect.name != "postgresql" or not rows or not events:
        add_events(conn, events)
        return insert_tasks(conn, rows)
    params: dict[str, Any] = {}
    task_values = []
    for n, row in enumerate(rows):
        task_values.append("(" + ", ".join(f"%(r{n}_{c})s" for c in _TASK_COLUMNS) + ")")
        params.update({f"r{n}_{c}": row.get(c) for c in _TASK_COLUMNS})
    columns = ", ".join(_TASK_COLUMNS)
    statements = [
        _events_sql(events, params),
        f"INSERT INTO {_T.name} ({columns}) VALUES {', '.join(task_values)} RETURNING id, spiff_id",
    ]
    ids = {spiff_id: int(task_id) for task_id, spiff_id in driver_execute(conn, statements, params)[0]}
    return [ids[row["spiff_id"]] for row in rows]


_INSTANCE_COLUMNS = [c.name for c in _I.c if c.name != "id"]
_NEW_ID = f"currval(pg_get_serial_sequence('{_I.name}', 'id'))"
_LATEST_VERSION = f"(SELECT max(version) FROM {pt.wf_specs.name} WHERE process_id = %(x_process)s)"
_LATEST_VERSION_OF = sa.select(sa.func.max(pt.wf_specs.c.version)).where(
    pt.wf_specs.c.process_id == sa.bindparam("b_process")
)


def insert_new_instance(
    conn: Connection,
    instance: dict[str, Any],
    rows: list[dict[str, Any]],
    events: list[dict[str, Any]],
    *,
    newest: bool = False,
) -> tuple[int, list[int], int | None]:
    """A new instance with its first state, its inbox rows and its history events; returns its id, the task ids
    (in the order of ``rows``) and, if ``newest`` is asked for, the newest version of its process now (the check
    of a cached spec id). On PostgreSQL all of it is ONE round trip (the rows take the instance's id from its
    sequence)."""
    if conn.dialect.name != "postgresql":
        instance_id = insert_instance(conn, instance)
        for row in [*rows, *events]:
            row["instance_id"] = instance_id
        add_events(conn, events)
        task_ids = insert_tasks(conn, rows)
        latest = conn.execute(_LATEST_VERSION_OF, {"b_process": instance["process_id"]}).scalar() if newest else None
        return instance_id, task_ids, latest
    params: dict[str, Any] = {f"n_{c}": instance.get(c) for c in _INSTANCE_COLUMNS}
    params["n_correlation"] = json.dumps(instance["correlation"])
    params["x_process"] = instance["process_id"]
    latest_sql = _LATEST_VERSION if newest else "NULL"
    columns = ", ".join(_INSTANCE_COLUMNS)
    values = ", ".join(f"%(n_{c})s" for c in _INSTANCE_COLUMNS)
    parts = [f"INSERT INTO {_I.name} ({columns}) VALUES ({values})"]
    if events:
        parts.append(_events_sql(events, params, _NEW_ID))
    if rows:
        task_values = []
        for n, row in enumerate(rows):
            cells = [_NEW_ID if c == "instance_id" else f"%(r{n}_{c})s" for c in _TASK_COLUMNS]
            task_values.append("(" + ", ".join(cells) + ")")
            params.update({f"r{n}_{c}": row.get(c) for c in _TASK_COLUMNS if c != "instance_id"})
        parts.append(
            f"INSERT INTO {_T.name} ({', '.join(_TASK_COLUMNS)}) VALUES {', '.join(task_values)} "
            f"RETURNING instance_id, id, spiff_id, {latest_sql}"
        )
    else:
        parts.append(f"SELECT {_NEW_ID}, NULL, NULL, {latest_sql}")
    result, _count = driver_execute(conn, parts, params)
    ids = {r[2]: int(r[1]) for r in result if r[2] is not None}
    instance_id = int(result[0][0])
    for row in [*rows, *events]:
        row["instance_id"] = instance_id
    return instance_id, [ids[row["spiff_id"]] for row in rows], result[0][3]


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


def insert_tasks(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Several inbox rows in one round trip (INSERT .. RETURNING, ids in the order of ``rows``)."""
    if not rows:
        return []
    if len(rows) == 1:
        return [insert_task(conn, rows[0])]
    return [int(r[0]) for r in conn.execute(_INSERT_TASKS, rows)]


def task_and_instance(conn: Connection, task_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A task and its instance in one statement, both locked on PostgreSQL (the step's first read)."""
    if conn.dialect.name == "postgresql":
        sql, names = _locked_task_sql(conn.dialect)
        rows, _count = driver_execute(conn, [sql], {"b_id": task_id})
        row = dict(zip(names, rows[0], strict=True)) if rows else None
    else:
        row = conn.execute(_TASK_WITH_INSTANCE, {"b_id": task_id}).mappings().first()
    if row is None:
        raise NotFound(f"no workflow task #{task_id}")
    task, instance = {}, {}
    for key, value in row.items():
        if key.startswith("i_"):
            instance[key[2:]] = value
        else:
            task[key] = value
    return task, instance


def open_rows(conn: Connection, instance_id: int, spiff_ids: list[str]) -> list[dict[str, Any]]:
    """The open inbox rows of these spiff tasks (to answer a step with every current task)."""
    if not spiff_ids:
        return []
    t = pt.wf_tasks
    q = sa.select(t).where(t.c.instance_id == instance_id, t.c.spiff_id.in_(spiff_ids), t.c.status.in_(OPEN))
    return [dict(r) for r in conn.execute(q.order_by(t.c.id)).mappings()]


def cancel_spiff_tasks(conn: Connection, instance_id: int, spiff_ids: list[str]) -> None:
    """Close the inbox rows of steps that are no longer waiting (cancelled by a timer, a gateway, ...)."""
    if spiff_ids:
        t = pt.wf_tasks
        conn.execute(
            sa.update(t)
            .where(t.c.instance_id == instance_id, t.c.spiff_id.in_(spiff_ids), t.c.status.in_(OPEN))
            .values(status="cancelled")
        )


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


def add_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """History events of one step in one executemany (rows as built by ``event_row``)."""
    if rows:
        conn.execute(_INSERT_EVENT, rows)


def event_row(
    instance_id: int | None,
    at: datetime,
    kind: str,
    *,
    actor_id: int | None = None,
    element_id: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "at": at,
        "kind": kind,
        "actor_id": actor_id,
        "element_id": element_id,
        "detail": detail,
    }


def events(conn: Connection, instance_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(_EVENTS, {"b_id": instance_id}).mappings()]


def tasks_of(conn: Connection, instance_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(_TASKS_OF, {"b_id": instance_id}).mappings()]


def clear_routes(conn: Connection, instance_id: int) -> None:
    conn.execute(sa.delete(pt.wf_timers).where(pt.wf_timers.c.instance_id == instance_id))
    conn.execute(sa.delete(pt.wf_messages).where(pt.wf_messages.c.instance_id == instance_id))
