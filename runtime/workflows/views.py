"""What the API and the inbox pages show: an instance (state, current steps, history), a user's inbox,
one task with its form and data, a record's workflows, and the diagram with the current steps."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState

from runtime.errors import Forbidden, NotFound
from runtime.records.context import Context
from runtime.records.titles import record_title
from runtime.storage import platform_tables as pt
from runtime.workflows import store

TASK_FIELDS = (
    "id",
    "instance_id",
    "element_id",
    "name",
    "lane",
    "role",
    "assignee_id",
    "pool",
    "form_id",
    "status",
    "completed_by",
    "outcome",
    "comment",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_json(row: dict[str, Any], now: datetime, process_id: str | None = None) -> dict[str, Any]:
    out = {k: row.get(k) for k in TASK_FIELDS}
    out.update(
        due_at=_iso(row.get("due_at")),
        overdue=bool(row.get("due_at") and row["status"] in store.OPEN and row["due_at"] < now),
        created_at=_iso(row.get("created_at")),
        completed_at=_iso(row.get("completed_at")),
    )
    if process_id is not None:
        out["process_id"] = process_id
    return out


def _may_see(host: Any, conn: Any, instance: dict[str, Any], ctx: Context) -> bool:
    if ctx.is_admin or ctx.user_id is None or instance["started_by"] == ctx.user_id:
        return True
    t = pt.wf_tasks
    mine = conn.execute(
        sa.select(t.c.id)
        .where(
            t.c.instance_id == instance["id"],
            sa.or_(
                t.c.assignee_id == ctx.user_id,
                t.c.completed_by == ctx.user_id,
                sa.and_(t.c.pool.is_(True), t.c.role.in_(host._roles(ctx))),
            ),
        )
        .limit(1)
    ).first()
    if mine is not None:
        return True
    if instance.get("entity"):
        try:
            host.tessera.records.get(instance["entity"], instance["record_id"], ctx)
            return True
        except (NotFound, Forbidden):
            return False
    return False


def instance_view(host: Any, instance_id: int, ctx: Context, *, check: bool = True, conn: Any = None) -> dict[str, Any]:
    """``conn``: read inside the caller's transaction (the host answers a step with the state it just wrote)."""
    if conn is None:
        with host.db.read() as own:
            return instance_view(host, instance_id, ctx, check=check, conn=own)
    now = host.clock.now()
    instance = store.load_instance(conn, instance_id)
    if check and not _may_see(host, conn, instance, ctx):
        raise NotFound(f"no workflow instance #{instance_id}")
    spec_version = host.specs.version_of(conn, instance["spec_id"])
    rows = store.tasks_of(conn, instance_id)
    history = store.events(conn, instance_id)
    return {
        "id": instance["id"],
        "process_id": instance["process_id"],
        "spec_version": spec_version,
        "status": instance["status"],
        "error": instance["error"],
        "record": {"entity": instance["entity"], "id": instance["record_id"]} if instance["entity"] else None,
        "started_by": instance["started_by"],
        "correlation": instance["correlation"],
        "created_at": _iso(instance["created_at"]),
        "updated_at": _iso(instance["updated_at"]),
        "current": [task_json(dict(r), now) for r in rows if r["status"] in store.OPEN],
        "tasks": [task_json(dict(r), now) for r in rows],
        "history": [
            {
                "at": _iso(e["at"]),
                "kind": e["kind"],
                "actor_id": e["actor_id"],
                "element_id": e["element_id"],
                "detail": e["detail"],
            }
            for e in history
        ],
    }


def instances_for_record(host: Any, entity: str, record_id: int, ctx: Context) -> list[dict[str, Any]]:
    host.tessera.records.get(entity, record_id, ctx)  # 404/403 when the caller may not see the record
    i = pt.wf_instances
    with host.db.read() as conn:
        ids = (
            conn.execute(
                sa.select(i.c.id).where(i.c.entity == entity, i.c.record_id == record_id).order_by(i.c.id.desc())
            )
            .scalars()
            .all()
        )
    return [instance_view(host, n, ctx, check=False) for n in ids]


def _inbox_query(host: Any) -> Any:
    """Task rows with what a list shows beside them: process, linked record, starter and the starter's name."""
    t, i, u = pt.wf_tasks, pt.wf_instances, pt.users
    return (
        sa.select(
            t,
            i.c.process_id,
            i.c.spec_id,
            i.c.entity,
            i.c.record_id,
            i.c.started_by,
            u.c.display_name.label("started_by_name"),
        )
        .join(i, i.c.id == t.c.instance_id)
        .outerjoin(u, u.c.id == i.c.started_by)
    )


def _rows(host: Any, conn: Any, rows: list[Any], ctx: Context, now: datetime) -> list[dict[str, Any]]:
    """Task JSON plus ``entity``, ``record_id``, ``record_title`` (None when the user may not see the record),
    ``process_label`` (the BPMN process name; the UI translates ids it knows), ``started_by``/``started_by_name``."""
    titles: dict[tuple[str, int], str | None] = {}
    out = []
    for r in rows:
        item = task_json(dict(r), now, r["process_id"])
        key = (r["entity"], r["record_id"]) if r["entity"] else None
        if key is not None and key not in titles:
            titles[key] = _record_title(host, key, ctx)
        spec = host.specs.parsed_by_id(conn, r["spec_id"]).spec
        item.update(
            entity=r["entity"],
            record_id=r["record_id"],
            record_title=titles.get(key) if key else None,
            process_label=spec.description or r["process_id"],
            started_by=r["started_by"],
            started_by_name=r["started_by_name"],
        )
        out.append(item)
    return out


def _record_title(host: Any, key: tuple[str, int], ctx: Context) -> str | None:
    entity = host.tessera.registry.entities.get(key[0])
    if entity is None:
        return None
    try:
        record = host.tessera.records.get(key[0], key[1], ctx)
    except (NotFound, Forbidden):
        return None
    return record_title(host.tessera, entity, record, ctx)


def inbox(
    host: Any,
    ctx: Context,
    *,
    process_id: str | None = None,
    overdue: bool | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Everything the user must do: tasks assigned to them plus unclaimed pool tasks of their roles."""
    now = host.clock.now()
    t, i = pt.wf_tasks, pt.wf_instances
    mine = t.c.assignee_id == ctx.user_id
    roles = host._roles(ctx)
    if roles:
        mine = sa.or_(mine, sa.and_(t.c.pool.is_(True), t.c.assignee_id.is_(None), t.c.role.in_(roles)))
    q = _inbox_query(host).where(mine)
    q = q.where(t.c.status == status) if status else q.where(t.c.status.in_(store.OPEN))
    if process_id:
        q = q.where(i.c.process_id == process_id)
    if overdue is True:
        q = q.where(t.c.due_at < now)
    elif overdue is False:
        q = q.where(sa.or_(t.c.due_at.is_(None), t.c.due_at >= now))
    q = q.order_by(t.c.due_at.is_(None), t.c.due_at, t.c.id).limit(limit)
    with host.db.read() as conn:
        rows = conn.execute(q).mappings().all()
        return _rows(host, conn, rows, ctx, now)


def done_by(
    host: Any, ctx: Context, *, process_id: str | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[dict[str, Any]], int]:
    """Every task this user completed (also as an administrator, for someone else), newest first, one page of
    it and the total: ``(items, total)``."""
    now = host.clock.now()
    t, i = pt.wf_tasks, pt.wf_instances
    cond = sa.and_(t.c.completed_by == ctx.user_id, t.c.status == "completed")
    if process_id:
        cond = sa.and_(cond, i.c.process_id == process_id)
    q = _inbox_query(host).where(cond).order_by(t.c.completed_at.desc(), t.c.id.desc())
    count = sa.select(sa.func.count()).select_from(t.join(i, i.c.id == t.c.instance_id)).where(cond)
    with host.db.read() as conn:
        total = int(conn.execute(count).scalar_one())
        rows = conn.execute(q.offset(max(0, offset)).limit(max(1, limit))).mappings().all()
        return _rows(host, conn, rows, ctx, now), total


def task_view(host: Any, task_id: int, ctx: Context) -> dict[str, Any]:
    now = host.clock.now()
    with host.db.read() as conn:
        row = store.load_task(conn, task_id)
        instance = store.load_instance(conn, row["instance_id"])
        candidate = row["pool"] and row["assignee_id"] is None and row["role"] in host._roles(ctx)
        if not (
            ctx.is_admin
            or row["assignee_id"] == ctx.user_id
            or candidate
            or row["completed_by"] == ctx.user_id
            or instance["started_by"] == ctx.user_id
        ):
            raise NotFound(f"no workflow task #{task_id}")
        data: dict[str, Any] = {}
        if row["status"] in store.OPEN:
            wf = host.load_state(conn, instance)
            spiff = wf.get_task_from_id(uuid.UUID(row["spiff_id"]))
            if spiff is not None and spiff.state == TaskState.READY:
                data = dict(spiff.data)
    out = task_json(row, now, instance["process_id"])
    out.update(
        data=data, record={"entity": instance["entity"], "id": instance["record_id"]} if instance["entity"] else None
    )
    return out


def diagram(host: Any, instance_id: int, ctx: Context) -> dict[str, Any]:
    """The BPMN XML for a viewer (bpmn-js) plus the element ids to highlight."""
    view = instance_view(host, instance_id, ctx)
    with host.db.read() as conn:
        instance = store.load_instance(conn, instance_id)
        spec = host.specs.by_id(conn, instance["spec_id"])
    done = sorted({t["element_id"] for t in view["tasks"] if t["status"] == "completed"})
    return {"bpmn": spec.bpmn, "current": sorted({t["element_id"] for t in view["current"]}), "completed": done}
