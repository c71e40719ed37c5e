"""Work items: a task for one person that no BPMN process owns (a follow-up call, a visit, a review).

Rules, pools and follow-up plans create them through ``app.work_items.create`` (idempotent by ``key``, so a
job that runs twice makes one item); they appear in the /tasks inbox beside workflow tasks. Completing one
with a form saves the answers as a record of the form's entity through the records service, in the same
transaction as the item's status, and then tells the completion listeners (a follow-up plan evaluates its
alert conditions there). Overdue detection runs as a periodic job: past the SLA the assignee is reminded,
one SLA period later the assignee's manager (nearest ``manager`` in their department tree) is told.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from runtime.automation.followups.tables import work_items as wi
from runtime.errors import BadRequest, Conflict, Forbidden, NotFound
from runtime.records.context import Context
from runtime.records.service import joined_transaction
from runtime.storage import platform_tables as pt
from runtime.workflows.assignment import MANAGER_ROLE, nearest_with_role

log = logging.getLogger("tessera.work_items")

OPEN = ("open", "overdue")
STATUSES = ("open", "overdue", "done", "cancelled")
ESCALATE_JOB = "work_items.escalate"
ESCALATE_EVERY_SECONDS = 300
DEFAULT_ESCALATE_AFTER = timedelta(hours=24)
"""Time between the assignee's overdue reminder and the manager's escalation when the item names no SLA."""

Completed = Callable[[Connection, dict[str, Any], dict[str, Any] | None, Context], None]
"""fn(conn, item after completion, saved answers record or None, actor): runs in the completing transaction."""

TEXTS = {
    "overdue": {"zh": "待办已逾期：{title}", "en": "Overdue: {title}"},
    "overdue_body": {"zh": "请尽快处理。", "en": "Please deal with it now."},
    "escalated": {"zh": "下属待办逾期未办：{title}", "en": "Overdue in your team: {title}"},
    "escalated_body": {"zh": "处理人：{who}", "en": "Assigned to: {who}"},
}


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping) if row is not None else {}


class WorkItems:
    """The work-item service (``app.work_items``)."""

    def __init__(self, app: Any):
        self.app = app
        self.completed: list[Completed] = []
        """Completion listeners, called inside the completing transaction."""

    # creating -------------------------------------------------------------------------------------
    def create(
        self,
        conn: Connection,
        *,
        title: str,
        assignee_id: int | None,
        due_at: datetime | None,
        key: str,
        entity: str | None = None,
        record_id: int | None = None,
        form: str | None = None,
        channel: str | None = None,
        source: str = "rule",
        detail: dict[str, Any] | None = None,
        sla_hours: float | None = None,
    ) -> int:
        """The item under ``key`` (created now, or the one an earlier run created): a retried job makes one."""
        if not key or len(key) > 200:
            raise BadRequest("a work item needs a key of 1 to 200 characters")
        if form is not None and form not in self.app.registry.forms:
            raise BadRequest(f"work item form '{form}' is not a deployed form")
        found = conn.execute(sa.select(wi.c.id).where(wi.c.key == key)).scalar()
        if found is not None:
            return int(found)
        now = self.app.clock.now()
        start = due_at or now
        info = dict(detail or {})
        if sla_hours is not None:
            info["sla_hours"] = sla_hours
        values = {
            "title": title[:300],
            "assignee_id": assignee_id,
            "due_at": due_at,
            "sla_due_at": start + timedelta(hours=sla_hours) if sla_hours is not None else due_at,
            "status": "open",
            "entity": entity,
            "record_id": record_id,
            "form": form,
            "channel": channel,
            "source": source,
            "key": key,
            "detail": info,
            "escalation": 0,
            "created_at": now,
        }
        try:
            with conn.begin_nested():
                return int(conn.execute(sa.insert(wi).values(**values)).inserted_primary_key[0])
        except IntegrityError:  # another transaction created the same key just now
            found = conn.execute(sa.select(wi.c.id).where(wi.c.key == key)).scalar()
            if found is None:
                raise
            return int(found)

    # reading --------------------------------------------------------------------------------------
    def get(self, item_id: int, *, conn: Connection | None = None) -> dict[str, Any]:
        if conn is None:
            with self.app.db.read() as c:
                return self.get(item_id, conn=c)
        row = conn.execute(sa.select(wi).where(wi.c.id == item_id)).first()
        if row is None:
            raise NotFound(f"work item #{item_id} does not exist")
        return _row(row)

    def visible(self, item_id: int, ctx: Context) -> dict[str, Any]:
        """The item if this user may see it (assignee, administrator or manager), else NotFound."""
        item = self.get(item_id)
        if not self.may_see(item, ctx):
            raise NotFound(f"work item #{item_id} does not exist")
        return item

    def may_see(self, item: dict[str, Any], ctx: Context) -> bool:
        return ctx.is_admin or item["assignee_id"] == ctx.user_id or self.is_manager(ctx)

    def may_manage(self, ctx: Context) -> bool:
        """Reassign, reschedule and cancel: managers and administrators, like workflow tasks."""
        return ctx.is_admin or self.is_manager(ctx)

    def is_manager(self, ctx: Context) -> bool:
        if ctx.user_id is None:
            return False
        return MANAGER_ROLE in self.app.permissions.subject(ctx).roles

    def for_user(self, user_id: int, *, statuses: tuple[str, ...] = OPEN) -> list[dict[str, Any]]:
        q = sa.select(wi).where(wi.c.assignee_id == user_id, wi.c.status.in_(statuses)).order_by(wi.c.due_at, wi.c.id)
        with self.app.db.read() as conn:
            return [_row(r) for r in conn.execute(q)]

    def done_by(self, user_id: int, *, limit: int = 200) -> list[dict[str, Any]]:
        q = (
            sa.select(wi)
            .where(wi.c.completed_by == user_id, wi.c.status == "done")
            .order_by(wi.c.completed_at.desc())
            .limit(limit)
        )
        with self.app.db.read() as conn:
            return [_row(r) for r in conn.execute(q)]

    def open_count(self, user_id: int) -> tuple[int, bool]:
        """(open items, any overdue) for the sidebar badge."""
        q = sa.select(wi.c.status).where(wi.c.assignee_id == user_id, wi.c.status.in_(OPEN))
        with self.app.db.read() as conn:
            rows = [r.status for r in conn.execute(q)]
        return len(rows), "overdue" in rows

    # changing -------------------------------------------------------------------------------------
    def _open_for_update(self, conn: Connection, item_id: int) -> dict[str, Any]:
        q = sa.select(wi).where(wi.c.id == item_id)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"work item #{item_id} does not exist")
        item = _row(row)
        if item["status"] not in OPEN:
            raise Conflict(f"work item #{item_id} is already {item['status']}")
        return item

    def _set(self, conn: Connection, item_id: int, **values: Any) -> dict[str, Any]:
        conn.execute(sa.update(wi).where(wi.c.id == item_id).values(**values))
        return self.get(item_id, conn=conn)

    def reassign(self, item_id: int, user_id: int, ctx: Context, *, conn: Connection | None = None) -> dict[str, Any]:
        if conn is None:
            with self.app.db.write() as c:
                return self.reassign(item_id, user_id, ctx, conn=c)
        item = self._open_for_update(conn, item_id)
        if not (self.may_manage(ctx) or item["assignee_id"] == ctx.user_id):
            raise Forbidden("only the assignee, a manager or an administrator may hand a work item over")
        exists = conn.execute(sa.select(pt.users.c.id).where(pt.users.c.id == user_id, pt.users.c.active)).first()
        if exists is None:
            raise BadRequest(f"user #{user_id} does not exist or is inactive")
        return self._set(conn, item_id, assignee_id=user_id, escalation=0, status="open")

    def reschedule(
        self, item_id: int, due_at: datetime, ctx: Context | None, *, conn: Connection | None = None
    ) -> dict[str, Any]:
        """A new due time; the SLA deadline moves with it and the overdue reminders start again."""
        if conn is None:
            with self.app.db.write() as c:
                return self.reschedule(item_id, due_at, ctx, conn=c)
        item = self._open_for_update(conn, item_id)
        if ctx is not None and not self.may_manage(ctx):
            raise Forbidden("only a manager or an administrator may reschedule a work item")
        sla = (item["detail"] or {}).get("sla_hours")
        sla_due = due_at + timedelta(hours=sla) if isinstance(sla, int | float) else due_at
        return self._set(conn, item_id, due_at=due_at, sla_due_at=sla_due, escalation=0, status="open")

    def cancel(self, item_id: int, ctx: Context | None, *, conn: Connection | None = None) -> dict[str, Any]:
        if conn is None:
            with self.app.db.write() as c:
                return self.cancel(item_id, ctx, conn=c)
        self._open_for_update(conn, item_id)
        if ctx is not None and not self.may_manage(ctx):
            raise Forbidden("only a manager or an administrator may cancel a work item")
        return self._set(
            conn,
            item_id,
            status="cancelled",
            completed_at=self.app.clock.now(),
            completed_by=ctx.user_id if ctx else None,
        )

    def complete(self, item_id: int, answers: dict[str, Any] | None, ctx: Context) -> dict[str, Any]:
        """Done by its assignee (or an administrator): the form's answers become a record linked to the item.

        Invalid answers raise RecordInvalid with per-field errors and change nothing.
        """
        with self.app.db.write() as conn:
            item = self._open_for_update(conn, item_id)
            if item["assignee_id"] != ctx.user_id and not ctx.is_admin:
                raise Forbidden(f"work item #{item_id} is assigned to someone else")
            record = self._save_answers(conn, item, answers or {}, ctx)
            done = self._set(
                conn,
                item_id,
                status="done",
                completed_at=self.app.clock.now(),
                completed_by=ctx.user_id,
                result_entity=record["_entity"] if record else None,
                result_id=record["id"] if record else None,
            )
            for listener in self.completed:
                listener(conn, done, record, ctx)
            return done

    def _save_answers(
        self, conn: Connection, item: dict[str, Any], answers: dict[str, Any], ctx: Context
    ) -> dict[str, Any] | None:
        if not item["form"]:
            return None
        form = self.app.registry.form(item["form"])
        entity = self.app.registry.entity(form.entity)
        data = {**((item.get("detail") or {}).get("answer_values") or {}), **answers}  # a follow-up step's prefill
        for f in entity.fields:  # link the answers to the item's record (e.g. the discharge they follow up)
            if f.type == "reference" and f.opt("entity") == item["entity"] and data.get(f.name) in (None, ""):
                data[f.name] = item["record_id"]
        with joined_transaction(conn):
            record = self.app.records.create(entity.id, data, ctx, form_id=form.id)
        return {**record, "_entity": entity.id}

    # overdue and escalation -----------------------------------------------------------------------
    def escalate_due(self, now: datetime | None = None) -> int:
        """Remind assignees of items past their SLA, then their managers one SLA period later; returns the
        number of notifications asked for. Idempotent: each level is sent once per item (notifier keys)."""
        now = now or self.app.clock.now()
        deadline = sa.func.coalesce(wi.c.sla_due_at, wi.c.due_at)
        q = sa.select(wi.c.id).where(wi.c.status.in_(OPEN), wi.c.escalation < 2, deadline <= now).order_by(wi.c.id)
        with self.app.db.read() as conn:
            ids = [r.id for r in conn.execute(q)]
        sent = 0
        for item_id in ids:
            try:
                sent += self._escalate_one(item_id, now)
            except Exception:  # noqa: BLE001 - one bad item must not stop the others; the job logs and moves on
                log.exception("could not escalate work item #%s", item_id)
        return sent

    def _escalate_one(self, item_id: int, now: datetime) -> int:
        with self.app.db.write() as conn:
            try:
                item = self._open_for_update(conn, item_id)
            except (NotFound, Conflict):
                return 0
            deadline = item["sla_due_at"] or item["due_at"]
            if deadline is None or deadline > now:
                return 0
            link = f"/work-items/{item_id}"
            record = (item["entity"], item["record_id"]) if item["entity"] and item["record_id"] else None
            if item["escalation"] == 0:
                self._set(conn, item_id, status="overdue", escalation=1)
                if item["assignee_id"] is None:
                    return 0
                self._notify(conn, item["assignee_id"], f"work-item:{item_id}:overdue", "overdue", item, link, record)
                return 1
            after = (item["detail"] or {}).get("sla_hours")
            gap = timedelta(hours=after) if isinstance(after, int | float) and after > 0 else DEFAULT_ESCALATE_AFTER
            if now < deadline + gap:
                return 0
            self._set(conn, item_id, escalation=2)
            manager = nearest_with_role(conn, item["assignee_id"], MANAGER_ROLE)
            if manager is None:
                log.warning("work item #%s is overdue but its assignee has no manager to escalate to", item_id)
                return 0
            self._notify(conn, manager, f"work-item:{item_id}:escalated", "escalated", item, link, record)
            return 1

    def _notify(
        self,
        conn: Connection,
        user_id: int,
        key: str,
        kind: str,
        item: dict[str, Any],
        link: str,
        record: tuple[str, int] | None,
    ) -> None:
        lang = conn.execute(sa.select(pt.users.c.language).where(pt.users.c.id == user_id)).scalar() or "zh"
        lang = lang if lang in ("zh", "en") else "zh"
        who = ""
        if item["assignee_id"] is not None:
            who = conn.execute(sa.select(pt.users.c.display_name).where(pt.users.c.id == item["assignee_id"])).scalar()
        self.app.notifier.notify(
            conn,
            user_ids=[user_id],
            key=key,
            title=TEXTS[kind][lang].format(title=item["title"]),
            body=TEXTS[f"{kind}_body"][lang].format(who=who or "—"),
            record=record,
            link=link,
        )


def install_work_items(app: Any) -> WorkItems:
    """``app.work_items`` plus its periodic overdue job."""
    service = WorkItems(app)

    @app.jobs.task(ESCALATE_JOB, retries=3, retry_seconds=60)
    def _escalate(payload: dict[str, Any]) -> None:
        service.escalate_due()

    app.jobs.every(ESCALATE_JOB, seconds=ESCALATE_EVERY_SECONDS)
    return service
