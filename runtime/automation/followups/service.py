"""Follow-up plans at run time: starting them for a record, making their steps due, alerting on answers.

* A record write (after_write hook, same transaction) starts every plan of its entity whose anchor is set and
  whose ``applies_when`` holds: one plan instance per (plan, record) and one step row per step, due at anchor +
  offset, each with a deferred job (run_at = due, key per step and due time). A changed anchor moves the
  pending steps (not the ones a person moved by hand) and defers new jobs; the old jobs find the step moved
  and do nothing.
* A due step sends its message (sms, email, in_app) through the notifier, or creates a work item (phone,
  visit, review) for its assignee with the step's form.
* Completing that work item (a completion listener of app.work_items) marks the step done and evaluates the
  step's alert conditions on the saved answers: a match notifies the responsible person (e.g. the attending
  doctor), once per step and alert.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from runtime.automation.followups.plans import Plan, Step, anchor_datetime, plan_from_doc, text
from runtime.automation.followups.tables import followup_plans as fp
from runtime.automation.followups.tables import followup_steps as fs
from runtime.automation.pause import write_automation_is_paused
from runtime.errors import NotFound
from runtime.expressions import ExpressionError, evaluate
from runtime.notify.contacts import Contact, ContactResolver
from runtime.records.context import Context
from runtime.records.hooks import WriteEvent
from runtime.records.service import joined_transaction

log = logging.getLogger("tessera.followups")

STEP_JOB = "followups.step_due"
SYSTEM_CTX = Context(channel="rule", lang="zh", is_admin=True)
"""Who reads the plan's record when a step becomes due: the automation, allowed to see every record."""


def step_job_key(step_row_id: int, due_at: datetime) -> str:
    return f"followup-step:{step_row_id}:{due_at.isoformat()}"


def row(r: Any) -> dict[str, Any]:
    return dict(r._mapping)


class Followups:
    """``app.followups``: plan instances of records and their steps."""

    def __init__(self, app: Any):
        self.app = app
        self._parsed: dict[str, tuple[dict[str, Any], Plan]] = {}

    # plans ----------------------------------------------------------------------------------------
    def plans(self) -> dict[str, Plan]:
        """The deployed plans, parsed once per deployed document (a redeploy brings new documents)."""
        out = {}
        for ident, doc in self.app.registry.extras("followup_plan").items():
            cached = self._parsed.get(ident)
            if cached is None or cached[0] is not doc:
                cached = self._parsed[ident] = (doc, plan_from_doc(doc))
            out[ident] = cached[1]
        return out

    def plans_for(self, entity_id: str) -> list[Plan]:
        return [p for p in self.plans().values() if p.entity == entity_id]

    # starting and rescheduling (after_write hook) -------------------------------------------------
    def on_write(self, event: WriteEvent) -> None:
        plans = self.plans_for(event.entity.id)
        if not plans or event.record_id is None or write_automation_is_paused():
            return  # paused: a snapshot (demo data) that already holds the plans' work is being loaded
        if event.action == "delete":
            self._stop_all(event.conn, event.entity.id, event.record_id, event.ctx)
            return
        record = event.after or {}
        for plan in plans:
            anchor = anchor_datetime(record.get(plan.anchor))
            existing = self._instance_of(event.conn, plan.id, event.entity.id, event.record_id)
            if existing is not None:
                if existing["status"] == "active" and anchor is not None and anchor != existing["anchor_at"]:
                    self._reanchor(event.conn, existing, plan, anchor, event.ctx)
                continue
            if anchor is None or (plan.start == "on_create" and event.action != "create"):
                continue
            if not self._applies(plan, record):
                continue
            self.start(event.conn, plan, event.entity.id, event.record_id, anchor, event.ctx)

    def _applies(self, plan: Plan, record: dict[str, Any]) -> bool:
        if not plan.applies_when:
            return True
        from runtime.automation.rules.model import typed

        try:  # typed as expressions expect (dates as dates), like rule conditions
            values = typed(self.app.registry.entity(plan.entity), record) or {}
            return bool(evaluate(plan.applies_when, values, clock=self.app.clock))
        except (ExpressionError, TypeError, ValueError) as exc:
            log.warning("follow-up plan %s: applies_when failed on the record (%s); not started", plan.id, exc)
            return False

    def _instance_of(self, conn: Connection, plan_id: str, entity: str, record_id: int) -> dict[str, Any] | None:
        q = sa.select(fp).where(fp.c.plan_id == plan_id, fp.c.entity == entity, fp.c.record_id == record_id)
        found = conn.execute(q).first()
        return row(found) if found is not None else None

    def start(
        self, conn: Connection, plan: Plan, entity: str, record_id: int, anchor: datetime, ctx: Context | None
    ) -> int | None:
        """The plan's instance for this record with its steps and their jobs; None if it already exists."""
        now = self.app.clock.now()
        history = [_event(now, ctx, "started", anchor=anchor.isoformat())]
        try:
            with conn.begin_nested():
                instance_id = conn.execute(
                    sa.insert(fp).values(
                        plan_id=plan.id,
                        entity=entity,
                        record_id=record_id,
                        status="active",
                        anchor_at=anchor,
                        history=history,
                        created_at=now,
                    )
                ).inserted_primary_key[0]
        except IntegrityError:
            return None
        for step in plan.steps:
            self._add_step_row(conn, instance_id, step.id, step.label, step.channel, step.form, anchor + step.offset)
        return int(instance_id)

    def _add_step_row(
        self,
        conn: Connection,
        instance_id: int,
        step_id: str,
        label: Any,
        channel: str,
        form: str | None,
        due_at: datetime,
        *,
        adhoc: bool = False,
        assignee_id: int | None = None,
    ) -> int:
        step_row = conn.execute(
            sa.insert(fs).values(
                plan_instance_id=instance_id,
                step_id=step_id,
                label=label,
                channel=channel,
                form=form,
                due_at=due_at,
                status="pending",
                moved=adhoc,
                adhoc=adhoc,
                assignee_id=assignee_id,
                alerts=[],
            )
        ).inserted_primary_key[0]
        self._defer(conn, int(step_row), due_at)
        return int(step_row)

    def _defer(self, conn: Connection, step_row_id: int, due_at: datetime) -> None:
        payload = {"step": step_row_id, "due": due_at.isoformat()}
        self.app.jobs.defer(STEP_JOB, payload, run_at=due_at, key=step_job_key(step_row_id, due_at), conn=conn)

    def _reanchor(
        self, conn: Connection, instance: dict[str, Any], plan: Plan, anchor: datetime, ctx: Context | None
    ) -> None:
        """The anchor date changed: pending steps follow it (steps moved by hand keep their date)."""
        steps = conn.execute(
            sa.select(fs).where(
                fs.c.plan_instance_id == instance["id"], fs.c.status == "pending", fs.c.moved.is_(False)
            )
        ).all()
        moved = []
        for s in steps:
            step = plan.step(s.step_id)
            if step is None:
                continue
            due = anchor + step.offset
            if due != s.due_at:
                conn.execute(sa.update(fs).where(fs.c.id == s.id).values(due_at=due))
                self._defer(conn, s.id, due)
                moved.append(s.step_id)
        entry = _event(self.app.clock.now(), ctx, "anchor_changed", anchor=anchor.isoformat(), steps=moved)
        self._log(conn, instance["id"], entry, anchor_at=anchor)

    def _log(self, conn: Connection, instance_id: int, entry: dict[str, Any], **values: Any) -> None:
        history = conn.execute(sa.select(fp.c.history).where(fp.c.id == instance_id)).scalar() or []
        conn.execute(sa.update(fp).where(fp.c.id == instance_id).values(history=[*history, entry], **values))

    def _stop_all(self, conn: Connection, entity: str, record_id: int, ctx: Context | None) -> None:
        q = sa.select(fp.c.id).where(fp.c.entity == entity, fp.c.record_id == record_id, fp.c.status == "active")
        for instance_id in [r.id for r in conn.execute(q)]:
            self.stop_instance(conn, instance_id, ctx, reason="record_deleted")

    def stop_instance(
        self, conn: Connection, instance_id: int, ctx: Context | None, *, reason: str = "stopped"
    ) -> None:
        """No more steps: pending ones are cancelled, open work items too."""
        now = self.app.clock.now()
        for s in conn.execute(
            sa.select(fs).where(fs.c.plan_instance_id == instance_id, fs.c.status.in_(("pending", "open")))
        ).all():
            self.cancel_step_row(conn, row(s))
        self._log(
            conn,
            instance_id,
            _event(now, ctx, reason),
            status="stopped",
            stopped_at=now,
            stopped_by=ctx.user_id if ctx else None,
        )

    def cancel_step_row(self, conn: Connection, step: dict[str, Any], status: str = "cancelled") -> None:
        if step["status"] == "open" and step["work_item_id"]:
            item = self.app.work_items.get(step["work_item_id"], conn=conn)
            if item["status"] in ("open", "overdue"):
                self.app.work_items.cancel(step["work_item_id"], None, conn=conn)
        conn.execute(sa.update(fs).where(fs.c.id == step["id"]).values(status=status, done_at=self.app.clock.now()))

    # a step becomes due (job) ---------------------------------------------------------------------
    def run_step(self, payload: dict[str, Any]) -> None:
        step_row_id = int(payload["step"])
        with self.app.db.write() as conn:
            q = sa.select(fs).where(fs.c.id == step_row_id)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()
            found = conn.execute(q).first()
            if found is None:
                return
            s = row(found)
            if s["status"] != "pending" or s["due_at"].isoformat() != payload.get("due"):
                return  # done, skipped, or moved to another time (that time has its own job)
            instance = row(conn.execute(sa.select(fp).where(fp.c.id == s["plan_instance_id"])).one())
            if instance["status"] != "active":
                return
            plan = self.plans().get(instance["plan_id"])
            step = plan.step(s["step_id"]) if plan is not None else None
            record = self._record(conn, instance)
            if record is None:
                return
            assignee = s["assignee_id"] or (self.assign(conn, step.assignee, record, instance) if step else None)
            plan_label = plan.label if plan is not None else instance["plan_id"]
            if s["channel"] in ("phone", "visit", "review"):
                self._open_work_item(conn, s, step, instance, plan_label, assignee)
            else:
                people = self._contacts(conn, step, instance, record)
                if step is not None and step.contact and not people:  # meant for the patient, who has no number
                    conn.execute(sa.update(fs).where(fs.c.id == s["id"]).values(status="skipped"))
                    return
                self._send(conn, s, step, instance, plan_label, None if people else assignee, people)

    def _contacts(
        self, conn: Connection, step: Step | None, instance: dict[str, Any], record: dict[str, Any]
    ) -> list[Contact]:
        if step is None or not step.contact:
            return []
        with joined_transaction(conn):
            found = ContactResolver(self.app).resolve(instance["entity"], record, step.contact)
        if found is None:
            log.warning("follow-up step %s of plan #%s: the record has no phone or e-mail", step.id, instance["id"])
        return [found] if found is not None else []

    def _record(self, conn: Connection, instance: dict[str, Any]) -> dict[str, Any] | None:
        try:
            with joined_transaction(conn):
                return self.app.records.get(instance["entity"], instance["record_id"], SYSTEM_CTX)
        except (NotFound, KeyError):
            log.warning("follow-up plan #%s: its record is gone", instance["id"])
            return None

    def assign(
        self, conn: Connection, spec: dict[str, Any] | None, record: dict[str, Any], instance: dict[str, Any]
    ) -> int | None:
        if not spec:
            return None
        return assign_user(self.app, conn, spec, record, instance["entity"])

    def _open_work_item(
        self,
        conn: Connection,
        s: dict[str, Any],
        step: Step | None,
        instance: dict[str, Any],
        plan_label: Any,
        assignee: int | None,
    ) -> None:
        title = f"{text(plan_label, 'zh')} · {text(s['label'], 'zh')}"
        detail = {"followup_step": s["id"], "plan": instance["plan_id"], "step": s["step_id"], "label": s["label"]}
        if step is not None and step.answer_values:
            detail["answer_values"] = self._answer_values(conn, step, instance, s)
        item_id = self.app.work_items.create(
            conn,
            title=title,
            assignee_id=assignee,
            due_at=s["due_at"],
            key=f"followup-step:{s['id']}",
            entity=instance["entity"],
            record_id=instance["record_id"],
            form=s["form"],
            channel=s["channel"],
            source="followup",
            detail=detail,
            sla_hours=step.sla_hours if step is not None else None,
        )
        conn.execute(sa.update(fs).where(fs.c.id == s["id"]).values(status="open", work_item_id=item_id))

    def _answer_values(
        self, conn: Connection, step: Step, instance: dict[str, Any], s: dict[str, Any]
    ) -> dict[str, Any]:
        """The step's ``answer_values`` evaluated on the followed record (typed), as JSON values."""
        from runtime.automation.rules.actions import json_value
        from runtime.automation.rules.model import typed

        record = self._record(conn, instance) or {}
        names = {
            **(typed(self.app.registry.entity(instance["entity"]), record) or {}),
            "due_at": s["due_at"],
            "step_label": text(s["label"], "zh"),
        }
        return {
            name: json_value(evaluate(source, names, clock=self.app.clock))
            for name, source in (step.answer_values or {}).items()
        }

    def _send(
        self,
        conn: Connection,
        s: dict[str, Any],
        step: Step | None,
        instance: dict[str, Any],
        plan_label: Any,
        assignee: int | None,
        people: list[Contact] | None = None,
    ) -> None:
        message = (step.message if step is not None else None) or {"title": s["label"]}
        self.app.notifier.notify(
            conn,
            user_ids=[assignee] if assignee is not None else [],
            key=f"followup-step:{s['id']}",
            template=step.template if step is not None else None,
            title=None if step is not None and step.template else text(message.get("title"), "zh"),
            body=None if step is not None and step.template else text(message.get("body"), "zh") or None,
            context={"plan": text(plan_label, "zh"), "step": text(s["label"], "zh"), "due_at": s["due_at"].isoformat()},
            record=(instance["entity"], instance["record_id"]),
            link=f"/r/{instance['entity']}/{instance['record_id']}",
            channels=[s["channel"]],
            contacts=people,
        )
        conn.execute(sa.update(fs).where(fs.c.id == s["id"]).values(status="sent", done_at=self.app.clock.now()))

    # a step's work item is completed (work-item listener) -----------------------------------------
    def on_item_completed(
        self, conn: Connection, item: dict[str, Any], answers: dict[str, Any] | None, ctx: Context
    ) -> None:
        step_row_id = (item.get("detail") or {}).get("followup_step")
        if item.get("source") != "followup" or not isinstance(step_row_id, int):
            return
        found = conn.execute(sa.select(fs).where(fs.c.id == step_row_id)).first()
        if found is None:
            return
        s = row(found)
        instance = row(conn.execute(sa.select(fp).where(fp.c.id == s["plan_instance_id"])).one())
        conn.execute(sa.update(fs).where(fs.c.id == s["id"]).values(status="done", done_at=self.app.clock.now()))
        plan = self.plans().get(instance["plan_id"])
        step = plan.step(s["step_id"]) if plan is not None and not s["adhoc"] else None
        if step is None or not step.alerts or not answers:
            return
        record = self._record(conn, instance)
        raised = []
        for alert in step.alerts:
            try:
                hit = bool(evaluate(alert.when, answers, clock=self.app.clock))
            except (ExpressionError, TypeError, ValueError) as exc:
                log.warning("follow-up alert %s.%s.%s could not be evaluated: %s", plan.id, step.id, alert.id, exc)
                continue
            if not hit:
                continue
            target = self.assign(conn, alert.notify, record or {}, instance)
            raised.append({"id": alert.id, "level": alert.level, "user_id": target, "at": _iso(self.app.clock.now())})
            if target is None:
                log.warning("follow-up alert %s.%s.%s matched but names nobody to notify", plan.id, step.id, alert.id)
                continue
            title = alert.title or {
                "zh": f"随访异常：{text(step.label, 'zh')}（{alert.when}）",
                "en": f"Follow-up alert: {text(step.label, 'en')} ({alert.when})",
            }
            self.app.notifier.notify(
                conn,
                user_ids=[target],
                key=f"followup-alert:{s['id']}:{alert.id}",
                template=alert.template,
                title=None if alert.template else text(title, "zh"),
                body=None if alert.template else _answers_text(answers, alert.when),
                context={"answers": {k: v for k, v in answers.items() if not k.startswith("_")}, "level": alert.level},
                record=(instance["entity"], instance["record_id"]),
                link=f"/r/{instance['entity']}/{instance['record_id']}",
            )
        if raised:
            conn.execute(sa.update(fs).where(fs.c.id == s["id"]).values(alerts=raised))


def _answers_text(answers: dict[str, Any], condition: str) -> str:
    shown = [f"{k}={v}" for k, v in answers.items() if k in condition and not k.startswith("_")]
    return "; ".join(shown)[:500] or condition


def _iso(value: datetime) -> str:
    return value.isoformat()


def _event(at: datetime, ctx: Context | None, action: str, **detail: Any) -> dict[str, Any]:
    """One line of an instance's adjustment history: who did what, when."""
    return {"at": _iso(at), "by": ctx.user_id if ctx else None, "action": action, **detail}


def assign_user(app: Any, conn: Connection, spec: dict[str, Any], record: dict[str, Any], entity: str) -> int | None:
    """The assignment module's answer (runtime.automation.assignment, issue 5 part 4)."""
    try:
        from runtime.automation.assignment import assign
    except ModuleNotFoundError as exc:  # pragma: no cover - only until the assignment module is installed
        if exc.name != "runtime.automation.assignment":
            raise
        return _plain_assign(conn, spec, record)
    return assign(app, conn, spec, record, entity=entity)


def _plain_assign(conn: Connection, spec: dict[str, Any], record: dict[str, Any]) -> int | None:
    """{user: username} and {field: user field} without the assignment module."""
    from runtime.storage import platform_tables as pt

    if isinstance(spec.get("user"), str):
        return conn.execute(sa.select(pt.users.c.id).where(pt.users.c.username == spec["user"])).scalar()
    if isinstance(spec.get("field"), str):
        value = record.get(spec["field"])
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return None
