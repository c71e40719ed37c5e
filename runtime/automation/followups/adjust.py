"""Per-patient adjustments of a plan instance: move a step, reassign it, skip it, add an ad-hoc step, stop
the plan. Each is written to the instance's history with who and when.

Who may adjust: whoever may update the plan's record (the care team), managers and administrators.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.automation.followups.plans import CHANNELS, HUMAN_CHANNELS
from runtime.automation.followups.service import Followups, _event, row
from runtime.automation.followups.tables import followup_plans as fp
from runtime.automation.followups.tables import followup_steps as fs
from runtime.errors import BadRequest, Conflict, Forbidden, NotFound
from runtime.records.context import Context
from runtime.storage import platform_tables as pt

ACTIONS = ("move", "reassign", "skip", "add", "stop")
MAX_LABEL = 200


class Adjustments:
    def __init__(self, followups: Followups):
        self.f = followups
        self.app = followups.app

    def _instance(self, conn: Connection, instance_id: int, ctx: Context) -> dict[str, Any]:
        q = sa.select(fp).where(fp.c.id == instance_id)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        found = conn.execute(q).first()
        if found is None:
            raise NotFound(f"follow-up plan #{instance_id} does not exist")
        instance = row(found)
        self._require(ctx, instance)
        if instance["status"] != "active":
            raise Conflict(f"follow-up plan #{instance_id} is {instance['status']}: it cannot be changed")
        return instance

    def _require(self, ctx: Context, instance: dict[str, Any]) -> None:
        if ctx.is_admin or self.app.work_items.is_manager(ctx):
            return
        try:
            self.app.records.get(instance["entity"], instance["record_id"], ctx)
        except (NotFound, Forbidden):
            raise NotFound(f"follow-up plan #{instance['id']} does not exist") from None
        if not self.app.permissions.can(ctx, instance["entity"], "update"):
            raise Forbidden("changing a follow-up plan needs the right to update its record")

    def _step(self, conn: Connection, instance_id: int, step_row_id: int) -> dict[str, Any]:
        found = conn.execute(sa.select(fs).where(fs.c.id == step_row_id, fs.c.plan_instance_id == instance_id)).first()
        if found is None:
            raise NotFound(f"follow-up step #{step_row_id} is not part of plan #{instance_id}")
        step = row(found)
        if step["status"] not in ("pending", "open"):
            raise Conflict(f"step '{step['step_id']}' is already {step['status']}")
        return step

    def apply(self, instance_id: int, action: str, params: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """One adjustment; bad parameters raise BadRequest naming the parameter."""
        if action not in ACTIONS:
            raise BadRequest(f"unknown action '{action}' (one of {', '.join(ACTIONS)})")
        with self.app.db.write() as conn:
            instance = self._instance(conn, instance_id, ctx)
            now = self.app.clock.now()
            if action == "stop":
                self.f.stop_instance(conn, instance_id, ctx)
                return {"ok": True}
            if action == "add":
                return self._add(conn, instance, params, ctx, now)
            step = self._step(conn, instance_id, int_param(params, "step"))
            if action == "move":
                due = when_param(params, "due_at")
                conn.execute(sa.update(fs).where(fs.c.id == step["id"]).values(due_at=due, moved=True))
                if step["status"] == "pending":
                    self.f._defer(conn, step["id"], due)
                elif step["work_item_id"]:
                    self.app.work_items.reschedule(step["work_item_id"], due, None, conn=conn)
                entry = _event(now, ctx, "move", step=step["step_id"], due_at=due.isoformat())
            elif action == "reassign":
                user_id = int_param(params, "user_id")
                if conn.execute(sa.select(pt.users.c.id).where(pt.users.c.id == user_id)).first() is None:
                    raise BadRequest(f"parameter 'user_id': user #{user_id} does not exist")
                conn.execute(sa.update(fs).where(fs.c.id == step["id"]).values(assignee_id=user_id))
                if step["status"] == "open" and step["work_item_id"]:
                    self.app.work_items.reassign(step["work_item_id"], user_id, _system(ctx), conn=conn)
                entry = _event(now, ctx, "reassign", step=step["step_id"], user_id=user_id)
            else:  # skip
                self.f.cancel_step_row(conn, step, status="skipped")
                entry = _event(now, ctx, "skip", step=step["step_id"])
            self.f._log(conn, instance_id, entry)
            return {"ok": True, "step": step["id"]}

    def _add(
        self, conn: Connection, instance: dict[str, Any], params: dict[str, Any], ctx: Context, now: datetime
    ) -> dict[str, Any]:
        label = str(params.get("label") or "").strip()
        if not label or len(label) > MAX_LABEL:
            raise BadRequest(f"parameter 'label': 1 to {MAX_LABEL} characters")
        channel = str(params.get("channel") or "")
        if channel not in CHANNELS:
            raise BadRequest(f"parameter 'channel': one of {', '.join(sorted(CHANNELS))}")
        form = params.get("form") or None
        if form is not None and form not in self.app.registry.forms:
            raise BadRequest(f"parameter 'form': '{form}' is not a deployed form")
        assignee = params.get("user_id")
        assignee_id = int_param(params, "user_id") if assignee not in (None, "") else None
        if channel in HUMAN_CHANNELS and assignee_id is None:
            raise BadRequest(f"parameter 'user_id': a {channel} step needs someone to do it")
        due = when_param(params, "due_at")
        count = conn.execute(sa.select(sa.func.count()).where(fs.c.plan_instance_id == instance["id"])).scalar()
        step_id = f"adhoc_{int(count or 0) + 1}"
        step_row = self.f._add_step_row(
            conn, instance["id"], step_id, label, channel, form, due, adhoc=True, assignee_id=assignee_id
        )
        self.f._log(conn, instance["id"], _event(now, ctx, "add", step=step_id, label=label, due_at=due.isoformat()))
        return {"ok": True, "step": step_row}


def _system(ctx: Context) -> Context:
    """The plan adjustment was allowed above; the work item hand-over runs on the plan's authority."""
    return Context(user_id=ctx.user_id, channel="rule", lang=ctx.lang, is_admin=True, request_id=ctx.request_id)


def int_param(params: dict[str, Any], name: str) -> int:
    value = params.get(name)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 19:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise BadRequest(f"parameter '{name}' must be a positive whole number, got {value!r}")
    return value


def when_param(params: dict[str, Any], name: str) -> datetime:
    value = params.get(name)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is not None:
                from datetime import UTC

                try:
                    parsed = parsed.astimezone(UTC).replace(tzinfo=None)
                except OverflowError:  # an offset pushing year 1 out of range
                    parsed = None
            if parsed is not None:
                return parsed
    raise BadRequest(f"parameter '{name}' must be a date/time such as 2026-12-01T09:00, got {value!r}")


__all__ = ["ACTIONS", "Adjustments"]
