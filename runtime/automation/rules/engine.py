"""The rules engine (PL-09).

* Record triggers (create, update, field change, state change): an after_write hook picks the rules of
  the written entity whose trigger and condition match the new values, and defers one job per match,
  keyed (rule, record, record version), in the write's own transaction. The job runs the actions in its
  own transaction as the platform (channel 'rule'); if an action fails, that transaction rolls back, the
  failure is logged in tessera_rule_runs and the jobs layer retries. The triggering write never fails
  because of a rule: every hook error is caught and logged.
* Date-relative triggers ("30d before end_date"): one periodic tick scans each date rule with an
  index range query on the date column between the rule's watermark and now (both shifted by the
  offset) and remembers each (rule, record, date value) in tessera_rule_fired, in the transaction that
  defers the job, so a rescan or a restarted worker never fires twice while a changed date fires again.
* Cron rules: the same tick finds each rule's latest due occurrence after its watermark.
* Inbound events: ``emit(name, payload)`` (and ``POST /api/v1/events/{name}``).

A rule's own writes carry a depth (a context variable set while its actions run); at MAX_DEPTH the
chain stops with a logged 'loop' error instead of rules triggering each other forever.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from croniter import croniter
from sqlalchemy.engine import Connection

from runtime.automation.pause import write_automation_is_paused
from runtime.automation.rules import runs
from runtime.automation.rules.actions import RULE_CTX, WEBHOOK_TASK, ActionEnv, json_value, prepare, run_actions
from runtime.automation.rules.model import Rule, date_key, variables
from runtime.automation.rules.tables import rule_fired, rule_marks
from runtime.automation.rules.webhooks import open_body, resolve_headers
from runtime.clock import FixedClock, utc_to_local
from runtime.errors import NotFound
from runtime.records.hooks import WriteEvent
from runtime.records.service import joined_transaction

log = logging.getLogger("tessera.rules")
MAX_DEPTH = 5
RUN_TASK = "rules.run"
TICK_TASK = "rules.tick"
TICK_SECONDS = 60
FIRST_SCAN_GRACE = timedelta(days=1)
"""A date rule seen for the first time also fires for fire times up to a day ago (a deploy at 09:05
still sends the 09:00 reminders)."""
SCAN_BATCH = 5000
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("tessera_rule_depth", default=0)


class RuleIndex:
    """The deployed rules by trigger, rebuilt when the registry changes."""

    def __init__(self, docs: dict[str, dict[str, Any]]):
        self.by_id: dict[str, Rule] = {}
        self.record: dict[str, list[Rule]] = {}
        self.date: dict[str, list[Rule]] = {}
        self.cron: list[Rule] = []
        self.event: dict[str, list[Rule]] = {}
        for ident, doc in sorted(docs.items()):
            try:
                rule = Rule.from_doc(doc)
            except Exception:  # noqa: BLE001 - a deployed pack was checked; never break writes over one rule
                log.exception("rule %s cannot be read", ident)
                continue
            self.by_id[ident] = rule
            if not rule.enabled:
                continue
            if rule.kind in ("on", "field_change", "state_change"):
                self.record.setdefault(rule.entity or "", []).append(rule)
            elif rule.kind == "date":
                self.date.setdefault(rule.entity or "", []).append(rule)
            elif rule.kind == "cron":
                self.cron.append(rule)
            else:
                self.event.setdefault(rule.trigger["event"], []).append(rule)


class RuleEngine:
    def __init__(self, app: Any):
        self.app = app
        self._index: RuleIndex | None = None
        self._generation = -1
        jobs = app.jobs
        jobs.task(RUN_TASK, retries=5, retry_seconds=60)(self.run_job)
        jobs.task(WEBHOOK_TASK, retries=5, retry_seconds=60)(self.webhook_job)
        jobs.task(TICK_TASK, retries=0)(self.tick)
        jobs.every(TICK_TASK, seconds=TICK_SECONDS)
        app.hooks.after_write.append(self.after_write)

    # the deployed rules ---------------------------------------------------------------------------------
    @property
    def rules(self) -> RuleIndex:
        registry = self.app.registry
        if self._index is None or self._generation != registry.generation:
            self._index = RuleIndex(registry.extras("rule"))
            self._generation = registry.generation
        return self._index

    def state_field(self, entity: str) -> str:
        for doc in self.app.registry.extras("state_machine").values():
            if doc.get("entity") == entity and doc.get("field"):  # action-only documents have no field
                return doc["field"]
        return "status"

    # record triggers --------------------------------------------------------------------------------------
    def after_write(self, event: WriteEvent) -> None:
        index = self.rules
        # a snapshot being loaded (runtime/automation/pause.py) triggers date rules only
        record_rules = None if write_automation_is_paused() else index.record.get(event.entity.id)
        date_rules = index.date.get(event.entity.id)
        if not record_rules and not date_rules:
            return
        for rule in record_rules or []:
            try:
                with event.conn.begin_nested():
                    self._consider(rule, event)
            except Exception as exc:  # noqa: BLE001 - a rule never breaks the write that triggered it
                self._log_hook_error(event, rule, exc)
        if event.action != "delete":
            for rule in date_rules or []:
                try:
                    with event.conn.begin_nested():
                        self._date_written(rule, event)
                except Exception as exc:  # noqa: BLE001
                    self._log_hook_error(event, rule, exc)

    def _matches(self, rule: Rule, event: WriteEvent) -> bool:
        t = rule.trigger
        if rule.kind == "on":
            return event.action == t["on"] or (t["on"] == "write" and event.action in ("create", "update"))
        if event.action != "update":
            return False
        changed = set(event.changed_fields)
        if rule.kind == "field_change":
            names = t["field_change"]
            return bool(changed & set([names] if isinstance(names, str) else names))
        spec = t["state_change"]
        name = spec.get("field") or self.state_field(event.entity.id)
        if name not in changed:
            return False
        old, new = (event.before or {}).get(name), (event.after or {}).get(name)
        return ("from" not in spec or old in spec["from"]) and ("to" not in spec or new in spec["to"])

    def _consider(self, rule: Rule, event: WriteEvent) -> None:
        if event.ctx.channel in rule.doc.get("skip_channels", ()):
            return  # e.g. a change that came from the HIS is not sent back to it (no echo loop)
        if not self._matches(rule, event):
            return
        record = event.after if event.after is not None else event.before
        if rule.condition is not None:
            names = variables(record, before=event.before, entity=event.entity)
            if not rule.condition.evaluate(names, clock=self.app.clock):
                return
        version = (record or {}).get("version")
        key = f"rule:{rule.id}:{event.entity.id}:{event.record_id}:v{version}:{event.action}"
        payload = {"key": key, "rule": rule.id, "entity": event.entity.id, "record_id": event.record_id}
        if event.action == "delete":
            payload["snapshot"] = json_value(event.before)
        elif event.action == "update":
            payload["changes"] = _changes(event)
        self._defer(event.conn, key, payload, rule)

    def _defer(self, conn: Connection, key: str, payload: dict[str, Any], rule: Rule) -> None:
        depth = _DEPTH.get()
        if depth >= MAX_DEPTH:
            runs.record_run(
                conn,
                key=key,
                rule_id=rule.id,
                status="failed",
                kind="loop",
                now=self.app.clock.now(),
                entity=payload.get("entity"),
                record_id=payload.get("record_id"),
                error=f"stopped: rules triggered each other {depth} levels deep (a loop?); this run was not started",
            )
            return
        self.app.jobs.defer(RUN_TASK, {**payload, "depth": depth}, key=key, conn=conn)

    def _log_hook_error(self, event: WriteEvent, rule: Rule, exc: Exception) -> None:
        log.warning("rule %s could not be evaluated for %s #%s: %s", rule.id, event.entity.id, event.record_id, exc)
        try:
            with event.conn.begin_nested():
                runs.record_run(
                    event.conn,
                    key=f"rule:{rule.id}:{event.entity.id}:{event.record_id}:eval:{uuid.uuid4().hex[:8]}",
                    rule_id=rule.id,
                    status="failed",
                    now=self.app.clock.now(),
                    entity=event.entity.id,
                    record_id=event.record_id,
                    error=f"condition or trigger failed: {exc}",
                )
        except Exception:  # noqa: BLE001
            log.exception("could not log the failure of rule %s", rule.id)

    # running a rule ------------------------------------------------------------------------------------------
    def run_job(self, payload: dict[str, Any]) -> None:
        """One rule run: the actions in one transaction; a failure is logged (own transaction) and re-raised."""
        key, rule_id = payload["key"], payload["rule"]
        rule = self.rules.by_id.get(rule_id)
        now = self.app.clock.now()
        where = {"entity": payload.get("entity"), "record_id": payload.get("record_id")}
        if rule is None:
            with self.app.db.write() as conn:
                runs.record_run(
                    conn,
                    key=key,
                    rule_id=rule_id,
                    status="skipped",
                    now=now,
                    **where,
                    error="the rule is no longer deployed",
                )
            return
        try:
            prepare(self.app, rule.actions)
            with self.app.db.write() as conn:
                if runs.is_done(conn, key):
                    return  # a replay after a crash between commit and job completion
                env = self._env(conn, rule, payload, now)
                if env is None:
                    runs.record_run(
                        conn,
                        key=key,
                        rule_id=rule_id,
                        status="skipped",
                        now=now,
                        **where,
                        error="the record no longer exists",
                    )
                    return
                token = _DEPTH.set(int(payload.get("depth", 0)) + 1)
                try:
                    run_actions(env, rule.actions)
                finally:
                    _DEPTH.reset(token)
                note = "; ".join(env.skipped) or None  # lookups that matched nothing
                runs.record_run(conn, key=key, rule_id=rule_id, status="ok", now=now, **where, error=note)
        except Exception as exc:
            log.warning("rule %s failed (%s): %s", rule_id, key, exc)
            with self.app.db.write() as conn:
                runs.record_run(
                    conn,
                    key=key,
                    rule_id=rule_id,
                    status="failed",
                    now=now,
                    **where,
                    error=f"{type(exc).__name__}: {exc}",
                    payload=payload,
                )
            raise

    def _env(self, conn: Connection, rule: Rule, payload: dict[str, Any], now: datetime) -> ActionEnv | None:
        record = None
        entity, record_id = payload.get("entity"), payload.get("record_id")
        if payload.get("snapshot") is not None:
            record = payload["snapshot"]
        elif entity and record_id:
            try:
                with joined_transaction(conn):
                    record = self.app.records.get(entity, record_id, RULE_CTX)
            except NotFound:
                return None
        before = None
        if payload.get("changes") and record is not None:
            # the actions see the write that triggered them, even if the record changed since
            before = {**record, **{k: v[0] for k, v in payload["changes"].items()}}
            record = {**record, **{k: v[1] for k, v in payload["changes"].items()}}
        typed = self.app.registry.entity(entity) if entity else None
        names = variables(record, before=before, event=payload.get("event"), entity=typed)
        return ActionEnv(self.app, conn, rule.id, payload["key"], entity, record, names, now)

    def webhook_job(self, payload: dict[str, Any]) -> None:
        import httpx

        now = self.app.clock.now()
        where = {"entity": payload.get("entity"), "record_id": payload.get("record_id")}
        try:
            headers = resolve_headers(payload.get("headers"), self.app.params.get)  # secrets read now, never stored
            response = httpx.post(
                payload["url"],
                json=open_body(payload, self.app.cipher),
                timeout=10,
                headers={**headers, "Idempotency-Key": payload["key"]},
            )
            response.raise_for_status()
        except Exception as exc:
            with self.app.db.write() as conn:
                runs.record_run(
                    conn,
                    key=payload["key"],
                    rule_id=payload["rule"],
                    status="failed",
                    kind="webhook",
                    now=now,
                    error=f"POST {payload['url']}: {exc}",
                    payload=payload,
                    **where,
                )
            raise
        with self.app.db.write() as conn:
            runs.record_run(
                conn, key=payload["key"], rule_id=payload["rule"], status="ok", kind="webhook", now=now, **where
            )

    def retry(self, key: str) -> bool:
        """The admin's retry button: run a failed run again (a new job with the stored payload)."""
        from runtime.automation.rules.tables import rule_runs

        with self.app.db.write() as conn:
            row = conn.execute(sa.select(rule_runs).where(rule_runs.c.key == key)).first()
            if row is None or row.status != "failed" or not row.payload:
                return False
            task = WEBHOOK_TASK if row.kind == "webhook" else RUN_TASK
            return self.app.jobs.defer(task, dict(row.payload), key=f"{key}:retry:{row.attempts}", conn=conn)

    # inbound events -----------------------------------------------------------------------------------------------
    def emit(
        self,
        name: str,
        payload: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Trigger the rules listening to event ``name``; returns how many runs were queued."""
        payload = json_value(dict(payload or {}))
        event_key = key or uuid.uuid4().hex
        queued = 0
        for rule in self.rules.event.get(name, []):
            if rule.condition is not None and not rule.condition.evaluate(
                variables(None, event=payload), clock=self.app.clock
            ):
                continue
            run_key = f"rule:{rule.id}:e:{event_key}"[:250]
            job = {"key": run_key, "rule": rule.id, "entity": None, "record_id": None, "event": payload, "depth": 0}
            if conn is not None:
                queued += self.app.jobs.defer(RUN_TASK, job, key=run_key, conn=conn)
            else:
                queued += self.app.jobs.defer(RUN_TASK, job, key=run_key)
        return queued

    def events(self) -> set[str]:
        return set(self.rules.event)

    # date-relative and cron rules ------------------------------------------------------------------------------------
    def tick(self, payload: dict[str, Any] | None = None) -> None:
        """The periodic scan: each date and cron rule in its own transaction, so one bad rule blocks none."""
        index = self.rules
        for rule in [r for rules in index.date.values() for r in rules] + index.cron:
            try:
                with self.app.db.write() as conn:
                    if rule.kind == "date":
                        self._scan_dates(conn, rule)
                    else:
                        self._cron(conn, rule)
            except Exception as exc:  # noqa: BLE001 - logged for the admin page; the next tick tries again
                log.warning("scan of rule %s failed: %s", rule.id, exc)
                with self.app.db.write() as conn:
                    runs.record_run(
                        conn,
                        key=f"scan:{rule.id}",
                        rule_id=rule.id,
                        status="failed",
                        kind="scan",
                        now=self.app.clock.now(),
                        error=f"{type(exc).__name__}: {exc}",
                    )

    def _mark(self, conn: Connection, rule_id: str) -> datetime | None:
        q = sa.select(rule_marks.c.watermark).where(rule_marks.c.rule_id == rule_id)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        return conn.execute(q).scalar()

    def _set_mark(self, conn: Connection, rule_id: str, value: datetime, existed: bool) -> None:
        now = self.app.clock.now()
        if existed:
            conn.execute(
                sa.update(rule_marks).where(rule_marks.c.rule_id == rule_id).values(watermark=value, updated_at=now)
            )
        else:
            conn.execute(sa.insert(rule_marks).values(rule_id=rule_id, watermark=value, updated_at=now))

    def _scan_dates(self, conn: Connection, rule: Rule) -> None:
        entity = self.app.registry.entity(rule.entity)
        name = rule.trigger["date"]["field"]
        is_date = entity.field(name).type == "date"
        table = self.app.registry.tables[entity.id].main
        column = table.c[name]
        now = self.app.clock.now()
        mark = self._mark(conn, rule.id)
        lower_time = mark if mark is not None else now - FIRST_SCAN_GRACE
        shift = rule.date_shift()
        lower, upper = _bound(lower_time + shift, is_date), _bound(now + shift, is_date)
        rows = conn.execute(
            sa.select(table.c.id, column)
            .where(column > lower, column <= upper)
            .order_by(column, table.c.id)
            .limit(SCAN_BATCH)
        ).all()
        for row in rows:
            self._fire_date(conn, rule, row.id, row[1])
        self._set_mark(conn, rule.id, now, mark is not None)

    def _date_written(self, rule: Rule, event: WriteEvent) -> None:
        """A record written with a date whose fire time has already come (a contract created 10 days
        before its end, with a '30d before' rule) fires now rather than never; a 'before' reminder only while
        its date is still ahead (a visit planned for today gets no "visit tomorrow" reminder). Calendar dates
        are the hospital's days (TESSERA_TIMEZONE), as people entered them."""
        name = rule.trigger["date"]["field"]
        if event.action == "update" and name not in event.changed_fields:
            return
        value = (event.after or {}).get(name)
        if value is None:
            return
        is_date = event.entity.field(name).type == "date"
        value = _parse(value, is_date)
        now = self.app.clock.now()
        shift = rule.date_shift()
        if value > _bound(now + shift, is_date):
            return  # not yet: the scan will find it
        if shift > timedelta(0):
            if value <= (utc_to_local(now).date() if is_date else now):
                return  # the date itself has come: a reminder before it is moot
        elif value < _bound(now + shift - FIRST_SCAN_GRACE, is_date):
            return  # long past: no late reminders for old dates
        self._fire_date(event.conn, rule, event.record_id, value)

    def _fire_date(self, conn: Connection, rule: Rule, record_id: int, value: Any) -> None:
        """Once per (rule, record, date value): the fired row and the job commit together."""
        value_key = date_key(value)
        seen = conn.execute(
            sa.select(rule_fired.c.id).where(
                rule_fired.c.rule_id == rule.id,
                rule_fired.c.record_id == record_id,
                rule_fired.c.date_value == value_key,
            )
        ).first()
        if seen is not None:
            return
        if rule.condition is not None:
            with joined_transaction(conn):
                record = self.app.records.get(rule.entity, record_id, RULE_CTX)
            names = variables(record, entity=self.app.registry.entity(rule.entity))
            if not rule.condition.evaluate(names, clock=self.app.clock):
                return
        conn.execute(
            sa.insert(rule_fired).values(
                rule_id=rule.id, record_id=record_id, date_value=value_key, created_at=self.app.clock.now()
            )
        )
        key = f"rule:{rule.id}:{rule.entity}:{record_id}:d{value_key}"
        self._defer(conn, key, {"key": key, "rule": rule.id, "entity": rule.entity, "record_id": record_id}, rule)

    def _cron(self, conn: Connection, rule: Rule) -> None:
        now = self.app.clock.now()
        mark = self._mark(conn, rule.id)
        if mark is None:
            self._set_mark(conn, rule.id, now, False)  # from now on; no catching up with the past
            return
        schedule = croniter(rule.trigger["cron"], mark)
        due = None
        for _ in range(10000):
            nxt = schedule.get_next(datetime)
            if nxt > now:
                break
            due = nxt
        if due is None:
            return
        self._set_mark(conn, rule.id, due, True)
        occurrence = due.isoformat()
        if not rule.entity:
            key = f"rule:{rule.id}:c{occurrence}"
            self._defer(
                conn,
                key,
                {"key": key, "rule": rule.id, "entity": None, "record_id": None, "event": {"scheduled_at": occurrence}},
                rule,
            )
            return
        where = rule.trigger.get("where")
        table = self.app.registry.tables[rule.entity].main
        ids = conn.execute(sa.select(table.c.id).order_by(table.c.id).limit(SCAN_BATCH)).scalars().all()
        with joined_transaction(conn):
            for record_id in ids:
                if where or rule.condition is not None:
                    record = self.app.records.get(rule.entity, record_id, RULE_CTX)
                    names = variables(record, entity=self.app.registry.entity(rule.entity))
                    if where and not self._true(where, names):
                        continue
                    if rule.condition is not None and not rule.condition.evaluate(names, clock=self.app.clock):
                        continue
                key = f"rule:{rule.id}:{rule.entity}:{record_id}:c{occurrence}"
                self._defer(
                    conn,
                    key,
                    {
                        "key": key,
                        "rule": rule.id,
                        "entity": rule.entity,
                        "record_id": record_id,
                        "event": {"scheduled_at": occurrence},
                    },
                    rule,
                )

    def _true(self, source: str, names: dict[str, Any]) -> bool:
        from runtime.expressions import compile_expression

        return bool(compile_expression(source).evaluate(names, clock=FixedClock(self.app.clock.now())))


def _changes(event: WriteEvent) -> dict[str, list[Any]]:
    """Before/after of the changed fields (sensitive ones left out: job payloads are not encrypted)."""
    out = {}
    for name in event.changed_fields:
        f = event.entity.field(name)
        if f is None or f.sensitive:
            continue
        out[name] = [json_value((event.before or {}).get(name)), json_value((event.after or {}).get(name))]
    return out


def _bound(moment: datetime, is_date: bool) -> date | datetime:
    return moment.date() if is_date else moment


def _parse(value: Any, is_date: bool) -> date | datetime:
    if isinstance(value, datetime):
        return value.date() if is_date else value
    if isinstance(value, date):
        return value
    text = str(value)
    return date.fromisoformat(text[:10]) if is_date else datetime.fromisoformat(text.replace("Z", ""))
