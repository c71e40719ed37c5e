"""The workflow host: runs SpiffWorkflow instances against Tessera's database.

Every state change happens in ONE ``db.write()`` transaction together with the record changes it causes
(service tasks write through the records service joined to that transaction): load the serialized state
(locked, versioned), set the sandboxed engine, act, run engine steps, sync the inbox/timers/message
routes, save. A crash between steps leaves the last committed state; nothing is done twice (service
actions are also keyed per spiff task id in wf_effects).
"""

from __future__ import annotations

import logging
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessage
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.engine import Connection

from runtime import oplog
from runtime.clock import Clock, FixedClock
from runtime.errors import Conflict, Forbidden, NotFound, RecordInvalid
from runtime.expressions import ExpressionError
from runtime.records.context import Context
from runtime.records.service import joined_transaction
from runtime.storage import platform_tables as pt
from runtime.validation.errors import FieldError
from runtime.workflows import store
from runtime.workflows.actions import ActionCall, Actions, notify_action, record_actions
from runtime.workflows.assignment import MANAGER_ROLE, assignment, builtin, properties
from runtime.workflows.clocked import engine_clock
from runtime.workflows.data import json_safe
from runtime.workflows.engine import SandboxEnvironment, SandboxScriptEngine
from runtime.workflows.errors import StaleSpec, TaskClosed, WorkflowError
from runtime.workflows.specs import REPO_WORKFLOWS, SpecRow, SpecStore, bpmn_files
from runtime.workflows.spiff_logs import quiet_spiff_logs
from runtime.workflows.state import StateCodec
from runtime.workflows.views import task_json

log = logging.getLogger("tessera.workflows")
OPLOG_KIND = "workflow_migrate"
WORKFLOW_CTX = Context(channel="workflow", lang="en")
"""Service tasks act as the platform (channel "workflow" in the audit trail)."""
OPEN_KEY = "tessera_open"
"""Root task internal data: the spiff ids of the steps that have an open inbox row (saves a query per step)."""
_TIMERS = (TimerEventDefinition, MultipleEventDefinition)
"""What SpiffWorkflow's refresh_timers looks at."""
COMMENT_VAR = "_outcome_comment"
"""Where a task's outcome comment goes in the task data (a form field may be called ``comment``)."""


class WorkflowHost:
    def __init__(self, tessera: Any):
        self.tessera = tessera
        self.db = tessera.db
        self.clock: Clock = tessera.clock
        self.specs = SpecStore()
        self.codec = StateCodec()
        self.serializer = self.codec.serializer
        self.actions = Actions()
        self.actions.register("notify", notify_action(tessera))
        for name, action in record_actions(tessera.records).items():
            self.actions.register(name, action)
        self.actions.register("process.start", self._action_start)
        self._repo_loaded = False
        quiet_spiff_logs()

    # specs --------------------------------------------------------------------------------------------
    def register_bpmn(self, xml: str, source: str) -> list[SpecRow]:
        with self.db.write() as conn:
            return self.specs.register(conn, xml, source, self.clock.now())

    def register_folder(self, folder: Path, prefix: str = "") -> list[SpecRow]:
        rows = []
        for path in bpmn_files(folder):
            rows += self.register_bpmn(path.read_text("utf-8"), f"{prefix}{path.name}")
        return rows

    def register_pack(self, pack: Any) -> list[SpecRow]:
        rows = []
        for rel, xml in sorted(getattr(pack, "workflows", {}).items()):
            rows += self.register_bpmn(xml, f"{pack.id}/{rel}")
        return rows

    def ensure_repo_specs(self) -> None:
        """The shared processes of workflows/ are registered once per process (cheap when unchanged)."""
        if not self._repo_loaded:
            self.register_folder(REPO_WORKFLOWS, "workflows/")
            self._repo_loaded = True

    def spec_rows(self) -> list[SpecRow]:
        self.ensure_repo_specs()
        with self.db.read() as conn:
            return self.specs.all_latest(conn)

    # engine plumbing ------------------------------------------------------------------------------------
    def _engine(self, conn: Connection, instance: dict[str, Any], clock: Clock) -> SandboxScriptEngine:
        env = SandboxEnvironment(
            clock,
            builtins=partial(self._builtin, conn, instance),
            services=partial(self._service, conn, instance, clock),
        )
        return SandboxScriptEngine(env, instance["process_id"])

    def _builtin(self, conn: Connection, instance: dict[str, Any], name: str, data: Any) -> Any:
        if name == "instance_id":
            self._ensure_id(conn, instance)
        return builtin(conn, instance, name, data)

    def _ensure_id(self, conn: Connection, instance: dict[str, Any]) -> int:
        """A new instance is inserted with its final state at the end of its first step; something that needs
        its id earlier (an action's idempotency key, the ``instance_id`` variable) inserts it now."""
        if instance.get("id") is None:
            row = {k: v for k, v in instance.items() if not k.startswith("_") and k != "id"}
            instance["id"] = store.insert_instance(conn, row)
            for event in instance.get("_events", []):
                event["instance_id"] = instance["id"]
            if instance.get("_expect_version") is not None:  # checked once the engine has run (in _sync)
                instance["_newest"] = self.specs.newest_version(conn, instance["process_id"])
        return instance["id"]

    def _check_newest(self, instance: dict[str, Any], newest: int | None) -> None:
        """A start on a cached spec id: if a newer version was registered meanwhile (by another worker), the
        step is undone (its transaction rolls back) and ``start`` runs it again on the newest version."""
        expected = instance.get("_expect_version")
        if expected is not None and newest != expected:
            raise StaleSpec(instance["process_id"])

    def load_state(self, conn: Connection, instance: dict[str, Any]) -> BpmnWorkflow:
        """The instance's workflow object (the parsed spec comes from the cache; no script engine set)."""
        parsed = self.specs.parsed_by_id(conn, instance["spec_id"])
        return self.codec.loads(instance["state"], parsed.spec, parsed.subprocesses)

    def _event(self, instance: dict[str, Any], at: datetime, kind: str, **kwargs: Any) -> None:
        """Queue a history event; ``_sync`` writes the step's events in one statement."""
        instance.setdefault("_events", []).append(store.event_row(instance.get("id"), at, kind, **kwargs))

    def _load(self, conn: Connection, instance: dict[str, Any], clock: Clock) -> BpmnWorkflow:
        wf = self.load_state(conn, instance)
        wf.script_engine = self._engine(conn, instance, clock)  # not serialized: set again after every load
        instance["_had_timers"] = any(
            isinstance(t.task_spec.event_definition, TimerEventDefinition) for t in wf.event_manager.tasks.values()
        )
        return wf

    def _service(self, conn: Connection, instance: dict[str, Any], clock: Clock, name: str, params: dict, task: Any):
        element = getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
        self._ensure_id(conn, instance)
        call = ActionCall(conn, params, instance, element, f"{instance['id']}:{task.id}", clock.now(), WORKFLOW_CTX)
        return self.actions.run(name, call)

    @contextmanager
    def _running(self, conn: Connection, instance: dict[str, Any], clock: Clock) -> Iterator[None]:
        """Engine calls see the clock as "now" and write records in this transaction; errors name the process."""
        try:
            with engine_clock(clock), joined_transaction(conn):
                yield
        except ExpressionError as exc:
            raise WorkflowError(str(exc), process_id=instance["process_id"]) from None
        except SpiffWorkflowException as exc:  # e.g. a multi-instance collection that is not a list
            task = getattr(exc, "task", None)
            element = getattr(getattr(task, "task_spec", None), "bpmn_id", None)
            raise WorkflowError(str(exc), process_id=instance["process_id"], element_id=element) from None
        except (TypeError, ValueError, KeyError, AttributeError) as exc:  # task data the process cannot use
            raise WorkflowError(f"{type(exc).__name__}: {exc}", process_id=instance["process_id"]) from None

    def _advance(self, conn: Connection, instance: dict[str, Any], wf: BpmnWorkflow, clock: Clock) -> None:
        """Engine steps, then timers (a due timer needs a refresh and a second pass). A process without timer
        events anywhere (SpiffWorkflow's refresh_timers would find nothing) needs neither."""
        with self._running(conn, instance, clock):
            wf.do_engine_steps()
            if _has_timers(wf):
                wf.refresh_timers()
                wf.do_engine_steps()

    def _sync(self, conn: Connection, instance: dict[str, Any], wf: BpmnWorkflow, clock: Clock) -> dict[str, Any]:
        """Inbox tasks, timer due times, message routes, history and the saved state, from the workflow as it now
        is; returns the lean step result (the instance's status and its open tasks)."""
        now = clock.now()
        ready = [t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.manual]
        marks = wf.task_tree.internal_data.get(OPEN_KEY)
        if marks is not None or instance.get("id") is None:
            open_ids, known = set(marks or ()), set(marks or ())
        else:  # a state saved before the open-task marks existed: ask the inbox table once
            rows = store.task_states(conn, instance["id"])
            open_ids = {sid for sid, (_tid, status) in rows.items() if status in store.OPEN}
            known = set(rows)
        evaluate = partial(self._evaluate, wf, instance, conn, clock)
        new_rows = []
        for task in ready:
            if str(task.id) in known:
                continue
            a = assignment(task, evaluate, now)
            new_rows.append(
                {
                    "spiff_id": str(task.id),
                    "element_id": task.task_spec.bpmn_id,
                    "name": task.task_spec.bpmn_name or task.task_spec.bpmn_id,
                    "lane": task.task_spec.lane,
                    "role": a.role,
                    "assignee_id": a.assignee_id,
                    "pool": a.pool,
                    "form_id": a.form_id,
                    "due_at": a.due_at,
                    "status": "ready",
                    "created_at": now,
                }
            )
        ready_ids = {str(t.id) for t in ready}
        stale = sorted(open_ids - ready_ids)
        still_open = sorted((open_ids & ready_ids) - {r["spiff_id"] for r in new_rows})
        wf.task_tree.internal_data[OPEN_KEY] = sorted(ready_ids)
        timers, routes = {}, set()
        for task in wf.event_manager.tasks.values():
            definition = task.task_spec.event_definition
            if isinstance(definition, TimerEventDefinition):
                due = _due(definition.details(task).value)
                if due is not None:
                    timers[str(task.id)] = due
            elif isinstance(definition, MessageEventDefinition):
                routes |= {(definition.name, key) for key in instance["correlation"]}
        status = "completed" if wf.completed else ("running" if ready else "waiting")
        if status == "completed":
            self._event(instance, now, "completed")
        changes = {"state": self.codec.dumps(wf), "status": status, "updated_at": now, "error": None}
        if instance.get("id") is None:  # a new instance: one insert with its first state, tasks and events
            instance.update(changes)
            row = {k: v for k, v in instance.items() if not k.startswith("_") and k != "id"}
            instance["id"], task_ids, newest = store.insert_new_instance(
                conn, row, new_rows, instance.pop("_events", []), newest=instance.get("_expect_version") is not None
            )
            self._check_newest(instance, newest)
        else:
            if "_newest" in instance:  # a new instance inserted early (its id was needed)
                self._check_newest(instance, instance.pop("_newest"))
            store.save_step(conn, instance, changes, instance.pop("_task_done", None), instance.pop("_events", []))
            for row in new_rows:
                row["instance_id"] = instance["id"]
            task_ids = store.insert_tasks_and_events(conn, new_rows, instance.pop("_events", []))
        instance_id = instance["id"]
        store.cancel_spiff_tasks(conn, instance_id, stale)
        if timers or instance.get("_had_timers", True):
            store.replace_timers(conn, instance_id, timers)
        if instance["correlation"]:  # without correlation keys an instance has no message routes
            store.replace_messages(conn, instance_id, routes)
        current = store.open_rows(conn, instance_id, still_open)
        current += [{**row, "id": task_id} for row, task_id in zip(new_rows, task_ids, strict=True)]
        return {
            "id": instance_id,
            "process_id": instance["process_id"],
            "spec_version": self.specs.version_of(conn, instance["spec_id"]),
            "status": status,
            "record": {"entity": instance["entity"], "id": instance["record_id"]} if instance.get("entity") else None,
            "started_by": instance["started_by"],
            "current": [task_json(r, now) for r in sorted(current, key=lambda r: r["id"])],
        }

    def _evaluate(self, wf: BpmnWorkflow, instance: dict, conn: Connection, clock: Clock, source: str, task: Any):
        with self._running(conn, instance, clock):
            return wf.script_engine.evaluate(task, source)

    # starting ---------------------------------------------------------------------------------------------
    def start(
        self,
        process_id: str,
        data: dict[str, Any] | None,
        ctx: Context,
        record: tuple[str, int] | None = None,
        correlation_key: str | None = None,
    ) -> dict[str, Any]:
        """Start the newest version of a process as ``ctx`` (who must be allowed to: see ``may_start``); returns
        the lean step result (``instance()`` has the full view)."""
        self.ensure_repo_specs()
        cached = self.specs.cached_latest(process_id)
        try:
            with self.db.write() as conn:
                return self._start_checked(conn, process_id, data, ctx, record, correlation_key, cached)
        except StaleSpec:  # a newer version appeared since the id was cached: start that one instead
            self.specs.forget_latest(process_id)
        with self.db.write() as conn:
            return self._start_checked(conn, process_id, data, ctx, record, correlation_key, None)

    def _start_checked(
        self,
        conn: Connection,
        process_id: str,
        data: dict[str, Any] | None,
        ctx: Context,
        record: tuple[str, int] | None,
        correlation_key: str | None,
        cached: tuple[int, int] | None,
    ) -> dict[str, Any]:
        """``start`` in its transaction: with a cached (spec id, version) no lookup statement is needed, and the
        instance insert checks the version is still the newest (see ``_check_newest``)."""
        spec_id = cached[0] if cached else self.specs.latest_id(conn, process_id)
        if spec_id is None:
            raise NotFound(f"no workflow process '{process_id}'")
        if not self._may_start(self.specs.parsed_by_id(conn, spec_id), ctx):
            raise Forbidden(f"you may not start the process '{process_id}' (it names the roles that may)")
        return self._start(
            conn,
            process_id,
            data or {},
            ctx,
            record,
            correlation_key,
            self.clock,
            spec_id=spec_id,
            expect_version=cached[1] if cached else None,
        )

    def start_in(
        self,
        conn: Connection,
        process_id: str,
        data: dict[str, Any],
        ctx: Context,
        *,
        record: tuple[str, int] | None = None,
        correlation_key: str | None = None,
        clock: Clock | None = None,
    ) -> dict[str, Any]:
        """Start a process inside the caller's transaction (a rule action): the instance exists exactly when
        the caller's change commits. As the platform: the starter-role check is the caller's business.
        (No ensure_repo_specs here: registering opens its own write transaction, which would wait on ``conn``.)"""
        return self._start(conn, process_id, data, ctx, record, correlation_key, clock or self.clock)

    def may_start(self, process_id: str, ctx: Context) -> bool:
        """Who may start a process by hand (the API, the UI): administrators always; others when one of their roles
        is in the start event's ``starter_roles`` property (``*``: every signed-in user). Without the property
        only administrators may. Messages and service tasks start processes as the platform, unchecked."""
        self.ensure_repo_specs()
        with self.db.read() as conn:
            spec_id = self.specs.latest_id(conn, process_id)
            return spec_id is not None and self._may_start(self.specs.parsed_by_id(conn, spec_id), ctx)

    def _may_start(self, parsed: Any, ctx: Context) -> bool:
        if ctx.user_id is None or ctx.is_admin:
            return True
        allowed = starter_roles(parsed.spec)
        if "*" in allowed:
            return True
        if not allowed:
            return self.tessera.permissions.has_right(ctx, "admin")
        return bool(allowed & self._roles(ctx)) or self.tessera.permissions.has_right(ctx, "admin")

    def _start(
        self,
        conn: Connection,
        process_id: str,
        data: dict[str, Any],
        ctx: Context,
        record: tuple[str, int] | None,
        correlation_key: str | None,
        clock: Clock,
        message: tuple[str, Any] | None = None,
        spec_id: int | None = None,
        expect_version: int | None = None,
    ) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise WorkflowError("the start data must be a JSON object", process_id=process_id)
        data = json_safe(data)
        spec_id = spec_id or self.specs.latest_id(conn, process_id)
        if spec_id is None:
            raise NotFound(f"no workflow process '{process_id}'")
        parsed = self.specs.parsed_by_id(conn, spec_id)
        if record is not None:
            with joined_transaction(conn):
                self.tessera.records.get(record[0], record[1], ctx)  # exists, and the starter may see it
        keys = [f"{record[0]}:{record[1]}"] if record else []
        if correlation_key:
            keys.append(str(correlation_key))
        now = clock.now()
        instance = {
            "spec_id": spec_id,
            "process_id": process_id,
            "status": "running",
            "state": "{}",
            "entity": record[0] if record else None,
            "record_id": record[1] if record else None,
            "started_by": ctx.user_id,
            "correlation": keys,
            "error": None,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        instance["id"] = None  # inserted with its first state at the end of the step (see _ensure_id)
        instance["_had_timers"] = False
        instance["_expect_version"] = expect_version
        wf = BpmnWorkflow(parsed.spec, parsed.subprocesses)
        wf.script_engine = self._engine(conn, instance, clock)
        start_data = {"requester": ctx.user_id, **data}
        for task in wf.get_tasks(state=TaskState.READY):
            task.data.update(start_data)
        self._event(instance, now, "started", actor_id=ctx.user_id, version=self.specs.version_of(conn, spec_id))
        if message is not None:  # the message start event waits once the engine has run; then it catches
            self._advance(conn, instance, wf, clock)
            with self._running(conn, instance, clock):
                wf.catch(BpmnEvent(SpiffMessage(message[0]), message[1]))
        self._advance(conn, instance, wf, clock)
        return self._sync(conn, instance, wf, clock)

    def _action_start(self, call: ActionCall) -> dict[str, Any]:
        """process.start from a service task: same transaction, the new instance correlates with this one."""
        pid = call.params.get("process_id")
        if not isinstance(pid, str):
            raise WorkflowError("parameter 'process_id' must be text", process_id=call.instance["process_id"])
        data = call.params.get("data") or {}
        record = (call.instance["entity"], call.instance["record_id"]) if call.instance.get("entity") else None
        ctx = Context(user_id=None, channel="workflow", lang="en")
        started = self._start(
            call.conn, pid, data, ctx, record, call.params.get("correlation_key"), FixedClock(call.now)
        )
        return {"instance_id": started["id"]}

    # tasks ---------------------------------------------------------------------------------------------
    def _roles(self, ctx: Context) -> frozenset[str]:
        return self.tessera.permissions.subject(ctx).roles

    def complete(
        self,
        task_id: int,
        data: dict[str, Any] | None,
        ctx: Context,
        outcome: str | None = None,
        comment: str | None = None,
    ) -> dict[str, Any]:
        """Complete a user task: only its assignee (a pool member after claiming) or an administrator."""
        data = dict(data or {}) if isinstance(data, dict) else None
        if data is None:
            raise RecordInvalid([FieldError("", "the task data must be a JSON object", "type")])
        with self.db.write() as conn:
            task, instance = store.task_and_instance(conn, task_id)
            if task["status"] not in store.OPEN:
                raise TaskClosed(f"task #{task_id} is already {task['status']}")
            if not ctx.is_admin and task["assignee_id"] != ctx.user_id:
                if task["pool"] and task["assignee_id"] is None:
                    raise Forbidden(f"task #{task_id} belongs to a pool: claim it first")
                raise Forbidden(f"task #{task_id} is not assigned to you")
            wf = self._load(conn, instance, self.clock)
            spiff = wf.get_task_from_id(uuid.UUID(task["spiff_id"]))
            if spiff is None or spiff.state != TaskState.READY:
                raise TaskClosed(f"task #{task_id} is no longer waiting to be done")
            props = properties(spiff.task_spec)
            allowed = [o.strip() for o in props.get("outcomes", "").split(",") if o.strip()]
            if allowed and outcome not in allowed:
                message = f"choose one of: {', '.join(allowed)}"
                raise RecordInvalid([FieldError("outcome", message, "enum")])
            comment = comment.strip() if isinstance(comment, str) and comment.strip() else None
            if outcome is not None and outcome in _comment_required(props) and comment is None:
                raise RecordInvalid([FieldError("comment", f"say why ('{outcome}' needs a comment)", "required")])
            clean = self._validated(task["form_id"], data, ctx)
            spiff.data.update(clean)
            if outcome is not None or comment is not None:
                spiff.data.update({props.get("outcome_var") or "outcome": outcome, COMMENT_VAR: comment})
            now = self.clock.now()
            self._write_linked(conn, instance, task["form_id"], clean, ctx)
            with self._running(conn, instance, self.clock):
                spiff.run()
            instance["_task_done"] = (  # written with the step's state (one round trip on PostgreSQL)
                task_id,
                {"status": "completed", "completed_by": ctx.user_id, "completed_at": now, "outcome": outcome,
                 "comment": comment},
            )  # fmt: skip
            self._event(
                instance,
                now,
                "task_completed",
                actor_id=ctx.user_id,
                element_id=task["element_id"],
                task_id=task_id,
                outcome=outcome,
                comment=comment,
            )
            marks = wf.task_tree.internal_data.get(OPEN_KEY)
            if marks is not None:
                wf.task_tree.internal_data[OPEN_KEY] = [m for m in marks if m != task["spiff_id"]]
            self._advance(conn, instance, wf, self.clock)
            return self._sync(conn, instance, wf, self.clock)

    def _open_task(self, conn: Connection, task_id: int) -> dict[str, Any]:
        task = store.load_task(conn, task_id)
        if task["status"] not in store.OPEN:
            raise TaskClosed(f"task #{task_id} is already {task['status']}")
        return task

    def _validated(self, form_id: str | None, data: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """The records service's validator, limited to the fields of the task's form."""
        data = json_safe(data)
        if form_id is None:
            return data
        registry = self.tessera.registry
        if form_id not in registry.forms:
            raise WorkflowError(f"the task's form '{form_id}' is not deployed; ask IT to deploy the pack that has it")
        form = registry.form(form_id)
        names = set(form.field_names)
        errors = [
            FieldError(k, f"is not a field of the form '{form_id}'", "unknown_field") for k in data if k not in names
        ]
        errors += [e for e in registry.validator(form.entity).errors(data, ctx.lang) if e.field.split(".")[0] in names]
        if errors:
            raise RecordInvalid(errors)
        return data

    def _write_linked(
        self, conn: Connection, instance: dict[str, Any], form_id: str | None, data: dict[str, Any], ctx: Context
    ) -> None:
        """A form of the linked record's entity writes its fields into that record (same transaction)."""
        if not form_id or not data or not instance.get("entity"):
            return
        if self.tessera.registry.form(form_id).entity != instance["entity"]:
            return
        actor = Context(
            user_id=ctx.user_id,
            channel="workflow",
            lang=ctx.lang,
            is_admin=True,
            department_id=ctx.department_id,
            request_id=ctx.request_id,
        )
        with joined_transaction(conn):
            self.tessera.records.update(instance["entity"], instance["record_id"], data, actor, expected_version=None)

    def claim(self, task_id: int, ctx: Context) -> dict[str, Any]:
        with self.db.write() as conn:
            task = self._open_task(conn, task_id)
            if task["assignee_id"] == ctx.user_id:
                return store.load_task(conn, task_id)
            if not task["pool"] or task["assignee_id"] is not None:
                raise Conflict(f"task #{task_id} is already assigned")
            if not ctx.is_admin and task["role"] not in self._roles(ctx):
                raise Forbidden(f"task #{task_id} is for the role '{task['role']}', which you do not hold")
            store.update_task(conn, task_id, assignee_id=ctx.user_id, status="claimed")
            store.add_event(
                conn,
                task["instance_id"],
                self.clock.now(),
                "task_claimed",
                actor_id=ctx.user_id,
                element_id=task["element_id"],
                task_id=task_id,
            )
            return store.load_task(conn, task_id)

    def reassign(self, task_id: int, user_id: int, ctx: Context) -> dict[str, Any]:
        """Managers and administrators give a task to someone else."""
        if not ctx.is_admin and MANAGER_ROLE not in self._roles(ctx):
            raise Forbidden("only managers and administrators may reassign tasks")
        return self._hand_over(task_id, user_id, ctx, "task_reassigned")

    def delegate(self, task_id: int, user_id: int, ctx: Context) -> dict[str, Any]:
        """The assignee hands the task over."""
        with self.db.read() as conn:
            task = store.load_task(conn, task_id)
        if task["assignee_id"] != ctx.user_id:
            raise Forbidden(f"only the assignee of task #{task_id} may delegate it")
        return self._hand_over(task_id, user_id, ctx, "task_delegated")

    def _hand_over(self, task_id: int, user_id: Any, ctx: Context, kind: str) -> dict[str, Any]:
        target = self.tessera.users.get(user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else None
        if target is None:
            raise RecordInvalid([FieldError("user_id", "is not an active user", "unknown_user")])
        with self.db.write() as conn:
            task = self._open_task(conn, task_id)
            store.update_task(conn, task_id, assignee_id=user_id, status="claimed" if task["pool"] else "ready")
            store.add_event(
                conn,
                task["instance_id"],
                self.clock.now(),
                kind,
                actor_id=ctx.user_id,
                element_id=task["element_id"],
                task_id=task_id,
                to=user_id,
                previous=task["assignee_id"],
            )
            return store.load_task(conn, task_id)

    def withdraw(self, instance_id: int, ctx: Context) -> dict[str, Any]:
        """The starter (or an administrator) cancels a running instance."""
        with self.db.write() as conn:
            instance = store.load_instance(conn, instance_id, lock=True)
            if not ctx.is_admin and instance["started_by"] != ctx.user_id:
                raise Forbidden("only the person who started this workflow may withdraw it")
            if instance["status"] not in store.ACTIVE:
                raise Conflict(f"workflow instance #{instance_id} is already {instance['status']}")
            wf = self._load(conn, instance, self.clock)
            wf.cancel()
            now = self.clock.now()
            store.cancel_tasks(conn, [r["id"] for r in store.open_tasks(conn, instance_id).values()])
            store.clear_routes(conn, instance_id)
            store.add_event(conn, instance_id, now, "withdrawn", actor_id=ctx.user_id)
            store.save_instance(
                conn, instance, {"state": self.codec.dumps(wf), "status": "cancelled", "updated_at": now}
            )
        return self.instance(instance_id, ctx)

    # messages and timers ---------------------------------------------------------------------------------
    def send_message(self, name: str, correlation_key: str, payload: Any, ctx: Context) -> list[int]:
        """Deliver to the instances waiting for this message with this key, else start a process listening for it.

        Who may send: administrators, the platform (no user), and users allowed to start the receiving process
        (its ``starter_roles``, see ``may_start``): the message starts or moves on that process on their behalf.
        Anyone else gets 403 without learning whether an instance waits for the key."""
        payload = json_safe(payload if payload is not None else {})
        self.ensure_repo_specs()
        with self.db.write() as conn:
            targets = store.message_targets(conn, name, str(correlation_key))
            if targets and not ctx.is_admin and ctx.user_id is not None:
                specs = conn.execute(
                    sa.select(pt.wf_instances.c.spec_id).where(pt.wf_instances.c.id.in_(targets)).distinct()
                ).scalars()
                if not all(self._may_start(self.specs.parsed_by_id(conn, sid), ctx) for sid in specs):
                    raise Forbidden(f"you may not send the message '{name}' to the process waiting for it")
            for instance_id in targets:
                self._deliver(conn, instance_id, name, payload, ctx)
            if targets:
                return targets
            for row in self.specs.all_latest(conn):
                if name in _start_messages(self.specs.parsed(row).spec):
                    if not self._may_start(self.specs.parsed(row), ctx):
                        raise Forbidden(f"you may not send the message '{name}': it starts '{row.process_id}'")
                    data = payload if isinstance(payload, dict) else {"message": payload}
                    return [
                        self._start(
                            conn,
                            row.process_id,
                            data,
                            ctx,
                            None,
                            str(correlation_key),
                            self.clock,
                            message=(name, payload),
                        )["id"]
                    ]
        raise NotFound(f"no workflow waits for the message '{name}' with the key '{correlation_key}'")

    def _deliver(self, conn: Connection, instance_id: int, name: str, payload: Any, ctx: Context) -> None:
        instance = store.load_instance(conn, instance_id, lock=True)
        wf = self._load(conn, instance, self.clock)
        for task in list(wf.event_manager.tasks.values()):
            definition = task.task_spec.event_definition
            if isinstance(definition, MessageEventDefinition) and definition.name == name and isinstance(payload, dict):
                task.data.update(payload)
        with self._running(conn, instance, self.clock):
            wf.catch(BpmnEvent(SpiffMessage(name), payload))
        store.add_event(conn, instance_id, self.clock.now(), "message_received", actor_id=ctx.user_id, message=name)
        self._advance(conn, instance, wf, self.clock)
        self._sync(conn, instance, wf, self.clock)

    def tick(self, now: datetime | None = None) -> int:
        """Fire due timers: one transaction per instance; running it twice does nothing more. Returns instances run."""
        clock = FixedClock(now) if now is not None else self.clock
        at = clock.now()
        with self.db.read() as conn:
            due = store.due_instances(conn, at)
        for instance_id in due:
            try:
                with self.db.write() as conn:
                    self._fire(conn, instance_id, clock)
            except Exception as exc:  # one broken instance must not stop the others
                log.exception("workflow instance %s failed while firing timers", instance_id)
                self._mark_error(instance_id, str(exc), at)
        return len(due)

    def _fire(self, conn: Connection, instance_id: int, clock: Clock) -> None:
        instance = store.load_instance(conn, instance_id, lock=True)
        if instance["status"] not in store.ACTIVE:
            store.clear_routes(conn, instance_id)
            return
        wf = self._load(conn, instance, clock)
        due = [
            t for t in wf.event_manager.tasks.values() if isinstance(t.task_spec.event_definition, TimerEventDefinition)
        ]
        fired = [
            t.task_spec.bpmn_id
            for t in due
            if (d := _due(t.task_spec.event_definition.details(t).value)) and d <= clock.now()
        ]
        self._advance(conn, instance, wf, clock)
        for element in fired:
            store.add_event(conn, instance_id, clock.now(), "timer_fired", element_id=element)
        self._sync(conn, instance, wf, clock)

    def _mark_error(self, instance_id: int, message: str, at: datetime) -> None:
        with self.db.write() as conn:
            conn.execute(
                pt.wf_instances.update()
                .where(pt.wf_instances.c.id == instance_id)
                .values(status="error", error=message[:2000], updated_at=at)
            )
            store.clear_routes(conn, instance_id)
            store.add_event(conn, instance_id, at, "error", message=message[:500])

    # versions ---------------------------------------------------------------------------------------------
    def preview_migration(self, instance_id: int, target_version: int) -> dict[str, Any]:
        """What moving a running instance to another spec version would change (nothing is written)."""
        with self.db.read() as conn:
            instance, wf, target = self._migration_inputs(conn, instance_id, target_version)
        return _describe_diff(self._diff(wf, target), instance, target)

    def migrate(self, instance_id: int, target_version: int, ctx: Context) -> dict[str, Any]:
        """Move a running instance to ``target_version`` (SpiffWorkflow's migrate_workflow); logged in history
        and the operation log. Refused when a step that is active now does not exist in the target version."""
        with self.db.write() as conn:
            instance, wf, target = self._migration_inputs(conn, instance_id, target_version, lock=True)
            top, sub_diffs = self._diff(wf, target)
            preview = _describe_diff((top, sub_diffs), instance, target)
            if preview["blocked"]:
                raise Conflict(
                    f"instance #{instance_id} cannot move to version {target_version}: its active step(s) "
                    f"{', '.join(preview['blocked'])} do not exist there"
                )
            parsed = self.specs.parsed(target)
            migrate_workflow(top, wf, parsed.spec)
            for sp_id, sp_diff in sub_diffs.items():
                sp = wf.subprocesses[sp_id]
                if sp_diff is not None and sp.spec.name in parsed.subprocesses:
                    migrate_workflow(sp_diff, sp, parsed.subprocesses[sp.spec.name])
            wf.subprocess_specs = parsed.subprocesses
            now = self.clock.now()
            from_version = self.specs.by_id(conn, instance["spec_id"]).version
            store.save_instance(conn, instance, {"spec_id": target.id})
            store.add_event(
                conn,
                instance_id,
                now,
                "migrated",
                actor_id=ctx.user_id,
                from_version=from_version,
                to_version=target.version,
            )
            self._advance(conn, instance, wf, self.clock)
            self._sync(conn, instance, wf, self.clock)
            if OPLOG_KIND in oplog.KINDS:  # the operation log's list of kinds is owned by runtime/oplog.py
                oplog.record_operation(
                    conn,
                    OPLOG_KIND,
                    actor_id=ctx.user_id,
                    request_id=ctx.request_id,
                    at=now,
                    detail={
                        "instance_id": instance_id,
                        "process_id": instance["process_id"],
                        "from_version": from_version,
                        "to_version": target.version,
                    },
                )
        return self.instance(instance_id, ctx)

    def _migration_inputs(self, conn: Connection, instance_id: int, version: int, lock: bool = False):
        instance = store.load_instance(conn, instance_id, lock=lock)
        if instance["status"] not in store.ACTIVE:
            raise Conflict(f"workflow instance #{instance_id} is {instance['status']}; only running ones migrate")
        target = self.specs.version(conn, instance["process_id"], version)
        if target is None:
            raise NotFound(f"process '{instance['process_id']}' has no version {version}")
        return instance, self._load(conn, instance, self.clock), target

    def _diff(self, wf: BpmnWorkflow, target: SpecRow) -> tuple[Any, dict]:
        parsed = self.specs.parsed(target)
        return diff_workflow(self.serializer.registry, wf, parsed.spec, parsed.subprocesses)

    # reading --------------------------------------------------------------------------------------------
    def instance(self, instance_id: int, ctx: Context, *, check: bool = True, conn: Any = None) -> dict[str, Any]:
        """The instance as the API shows it; 404 for someone who may not see it (unless ``check`` is off)."""
        from runtime.workflows.views import instance_view

        return instance_view(self, instance_id, ctx, check=check, conn=conn)


def _describe_diff(diffs: tuple[Any, dict], instance: dict[str, Any], target: SpecRow) -> dict[str, Any]:
    top, sub_diffs = diffs
    active = TaskState.READY | TaskState.WAITING | TaskState.STARTED
    removed, changed, blocked = set(), set(), set()
    for diff in [top, *[d for d in sub_diffs.values() if d is not None]]:
        for task in diff.removed:
            removed.add(task.task_spec.bpmn_id or task.task_spec.name)
            if task.has_state(active) and task.task_spec.bpmn_id:
                blocked.add(task.task_spec.bpmn_id)
        changed |= {t.task_spec.bpmn_id or t.task_spec.name for t in diff.changed}
    return {
        "instance_id": instance["id"],
        "process_id": instance["process_id"],
        "target_version": target.version,
        "removed": sorted(removed),
        "changed": sorted(changed),
        "blocked": sorted(blocked),
        "possible": not blocked,
    }


def start_properties(spec: Any) -> dict[str, str]:
    """The ``spiffworkflow:properties`` of a process's (plain) start event: ``entity`` (the records it is started
    from), ``form`` (its start form), ``starter_roles`` (who may start it)."""
    for task_spec in spec.task_specs.values():
        if type(task_spec).__name__ == "StartEvent" and properties(task_spec):
            return properties(task_spec)
    return {}


def starter_roles(spec: Any) -> set[str]:
    raw = start_properties(spec).get("starter_roles", "")
    return {r.strip() for r in raw.split(",") if r.strip()}


def _comment_required(props: dict[str, str]) -> set[str]:
    """Outcomes that need a comment: the ``comment_required`` property ("reject,return"), default ``reject``."""
    raw = props.get("comment_required")
    if raw is None:
        return {"reject"}
    return {o.strip() for o in raw.split(",") if o.strip()}


_TIMED: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
"""Parsed process spec -> whether it or one of its subprocesses has timer events (computed once per spec)."""


def _has_timers(wf: BpmnWorkflow) -> bool:
    """Whether the process or one of its subprocesses has an event that SpiffWorkflow's refresh_timers updates."""
    timed = _TIMED.get(wf.spec)
    if timed is None:
        specs = [wf.spec, *wf.subprocess_specs.values()]
        timed = _TIMED[wf.spec] = any(
            isinstance(getattr(ts, "event_definition", None), _TIMERS) for sp in specs for ts in sp.task_specs.values()
        )
    return timed


def _due(value: Any) -> datetime | None:
    """A timer's due time (naive UTC) from SpiffWorkflow's event value."""
    if isinstance(value, dict):
        value = value.get("next")
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _start_messages(spec: Any) -> set[str]:
    names = set()
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if isinstance(definition, MessageEventDefinition) and type(task_spec).__name__ == "StartEvent":
            names.add(definition.name)
    return names
