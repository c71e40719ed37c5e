"""``app.jobs``: the one job interface of Tessera (timers, reminders, rule actions, sync, report delivery).

Every job is a row of ``tessera_jobs`` first (runtime/jobs/tables.py): ``defer`` inserts it in the caller's
transaction, its ``key`` makes deferring idempotent and its ``run_at`` follows the application clock. Who runs
the rows depends on the database:

* SQLite (embedded default, one machine): :class:`Jobs` claims due rows itself, in ``run_pending`` (tests),
  on a background thread of ``tessera serve`` or in ``tessera worker`` processes; SQLite's write lock
  serialises the claims, so several processes on one machine never run a row twice.
* PostgreSQL: due rows are handed to procrastinate (runtime/jobs/engine_pg.py), whose workers on any number
  of machines run them; a worker that dies mid-job is detected by procrastinate's heartbeats and its job is
  run again.

A job runs at least once, so tasks must be idempotent; a row marked done is never run again.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.errorlog import record_error
from runtime.jobs.schedule import Periodic
from runtime.jobs.tables import DONE, FAILED, HANDED, QUEUED, RUNNING, jobs

if TYPE_CHECKING:
    from runtime.services import Tessera

log = logging.getLogger("tessera.jobs")

TaskFn = Callable[[dict], object]
MAX_BACKOFF = timedelta(days=1)
KEEP_DONE = timedelta(days=30)
"""Done rows are deleted after this long (their keys may then be used again); failed rows stay until retried."""


@dataclass(frozen=True)
class Task:
    name: str
    fn: TaskFn
    retries: int
    retry_seconds: float


def wall_now() -> datetime:
    """Real time for liveness (heartbeats): a FixedClock must not make a running worker look dead."""
    return datetime.now(UTC).replace(tzinfo=None)


def stalled_seconds() -> float:
    """How long a silent worker is trusted before its job is run elsewhere (TESSERA_JOBS_STALLED_SECONDS)."""
    try:
        return max(1.0, float(os.environ.get("TESSERA_JOBS_STALLED_SECONDS", "30")))
    except ValueError:
        return 30.0


class Jobs:
    def __init__(self, app: Tessera):
        self.app = app
        self.db = app.db
        self.tasks: dict[str, Task] = {}
        self.periodic: dict[str, Periodic] = {}
        self.enabled = False
        """Only `tessera serve` (unless --no-jobs) turns the background runner on; tests call run_pending."""
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pg = None
        self._background = None
        self._pruned_at: datetime | None = None
        if self.db.dialect == "postgresql":
            from runtime.jobs.engine_pg import ProcrastinateEngine

            self._pg = ProcrastinateEngine(self)
        app.job_queue_depth = self.queue_depth  # the /metrics gauge tessera_job_queue_depth reads this
        from runtime.jobs.builtin import register_builtin_tasks

        register_builtin_tasks(self, app)

    # -- the interface ------------------------------------------------------------------------------------------

    def task(self, name: str, *, retries: int = 5, retry_seconds: float = 60) -> Callable[[TaskFn], TaskFn]:
        """Register ``fn(payload)`` under ``name``; raising makes it retry with backoff, up to ``retries`` times."""
        if not name or len(name) > 100:
            raise ValueError(f"job name must be 1-100 characters, got {name!r}")
        if retries < 0 or retry_seconds < 0:
            raise ValueError(f"job {name!r}: retries and retry_seconds cannot be negative")

        def register(fn: TaskFn) -> TaskFn:
            self.tasks[name] = Task(name, fn, retries, retry_seconds)
            return fn

        return register

    def defer(
        self,
        name: str,
        payload: dict | None = None,
        *,
        run_at: datetime | None = None,
        key: str | None = None,
        conn: Connection | None = None,
    ) -> bool:
        """Queue a job; False when a job with this ``key`` already exists. With ``conn`` it joins that transaction."""
        if run_at is not None and run_at.tzinfo is not None:
            run_at = run_at.astimezone(UTC).replace(tzinfo=None)
        now = self.app.clock.now()
        row = {
            "name": name,
            "key": key or f"{name}:{uuid.uuid4().hex}",
            "payload": payload or {},
            "status": QUEUED,
            "run_at": run_at or now,
            "attempts": 0,
            "created_at": now,
        }
        try:
            json.dumps(row["payload"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"job {name!r}: the payload must be plain JSON: {exc}") from exc
        if len(row["key"]) > 255:
            raise ValueError(f"job key is longer than 255 characters: {row['key'][:60]}...")
        if conn is not None:
            return self._insert(conn, row)
        with self.db.write() as own:
            return self._insert(own, row)

    def every(self, name: str, *, seconds: int | None = None, cron: str | None = None) -> None:
        """Run task ``name`` once per slot (every N seconds, or on a cron schedule), whatever the number of workers."""
        self.periodic[name] = Periodic(name, seconds, cron)

    def run_pending(self, *, max_jobs: int | None = None) -> int:
        """Run, in this thread, every job due at ``app.clock.now()`` (and those they make due); returns how many."""
        self.schedule_periodic()
        if self._pg is not None:
            return self._pg.run_pending(max_jobs=max_jobs)
        ran = 0
        while max_jobs is None or ran < max_jobs:
            claimed = self.claim_local()
            if claimed is None:
                break
            self.execute(claimed)
            ran += 1
        return ran

    # -- compatibility with the former workflow JobRunner (app.state.jobs) ---------------------------------------

    @property
    def jobs(self) -> dict[str, Periodic]:
        return self.periodic

    def run_due(self) -> list[str]:
        """Run what is due and name the tasks that ran (the former JobRunner's test hook)."""
        before = self._done_ids()
        self.run_pending()
        with self.db.read() as conn:
            rows = conn.execute(sa.select(jobs.c.id, jobs.c.name).where(jobs.c.status == DONE)).all()
        return sorted({r.name for r in rows if r.id not in before})

    def _done_ids(self) -> set[int]:
        with self.db.read() as conn:
            return set(conn.execute(sa.select(jobs.c.id).where(jobs.c.status == DONE)).scalars())

    # -- scheduling ------------------------------------------------------------------------------------------------

    def schedule_periodic(self) -> int:
        """Defer the current slot of every periodic job (the unique key makes concurrent schedulers agree)."""
        now = self.app.clock.now()
        made = 0
        for spec in list(self.periodic.values()):
            slot = spec.slot(now)
            made += self.defer(spec.name, {"scheduled_at": slot.isoformat()}, run_at=slot, key=spec.key(slot))
        return made

    def _insert(self, conn: Connection, row: dict) -> bool:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(jobs).values(**row).on_conflict_do_nothing(index_elements=["key"])
        return conn.execute(stmt).rowcount == 1

    # -- claiming and running ----------------------------------------------------------------------------------------

    def claim_local(self) -> dict | None:
        """SQLite: take the next due row (BEGIN IMMEDIATE serialises claimers across processes)."""
        now = self.app.clock.now()
        with self.db.write() as conn:
            self._recover_stalled(conn)
            row = conn.execute(
                sa.select(jobs.c.id)
                .where(jobs.c.status == QUEUED, jobs.c.run_at <= now)
                .order_by(jobs.c.run_at, jobs.c.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            return self._claim(conn, row.id, sa.and_(jobs.c.status == QUEUED))

    def claim_handed(self, job_id: int, engine_job_id: int) -> dict | None:
        """PostgreSQL: the procrastinate job ``engine_job_id`` takes its row (again, if its worker died)."""
        with self.db.write() as conn:
            return self._claim(
                conn, job_id, sa.and_(jobs.c.status.in_([HANDED, RUNNING]), jobs.c.engine_job_id == engine_job_id)
            )

    def _claim(self, conn: Connection, job_id: int, condition: Any) -> dict | None:
        stmt = (
            sa.update(jobs)
            .where(jobs.c.id == job_id, condition)
            .values(
                status=RUNNING,
                attempts=jobs.c.attempts + 1,
                locked_by=self.worker_id,
                heartbeat_at=wall_now(),
                started_at=self.app.clock.now(),
            )
            .returning(jobs.c.id, jobs.c.name, jobs.c.payload, jobs.c.attempts)
        )
        row = conn.execute(stmt).first()
        return dict(row._mapping) if row is not None else None

    def execute(self, claimed: dict) -> bool:
        """Run one claimed job and record its outcome; True when it succeeded."""
        task = self.tasks.get(claimed["name"])
        try:
            if task is None:
                raise LookupError(f"no job task is registered under the name {claimed['name']!r}")
            with _Heartbeat(self, claimed["id"]):
                task.fn(dict(claimed["payload"] or {}))
        except Exception as exc:  # noqa: BLE001 - a failing job is recorded, retried and never stops the runner
            self._failed(claimed, task, exc)
            return False
        with self.db.write() as conn:
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == claimed["id"], jobs.c.status == RUNNING, jobs.c.locked_by == self.worker_id)
                .values(status=DONE, finished_at=self.app.clock.now(), last_error=None, heartbeat_at=None)
            )
        return True

    def _failed(self, claimed: dict, task: Task | None, exc: Exception) -> None:
        error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-20_000:].replace("\x00", "")
        retries = task.retries if task is not None else 0
        give_up = claimed["attempts"] > retries
        log.error(
            "job %s (id %s, attempt %s) failed%s: %s; payload %s",
            claimed["name"],
            claimed["id"],
            claimed["attempts"],
            ", giving up" if give_up else ", will retry",
            exc,
            claimed["payload"],
        )
        now = self.app.clock.now()
        values: dict[str, Any] = {"last_error": error, "heartbeat_at": None, "locked_by": None}
        if give_up:
            values.update(status=FAILED, finished_at=now)
        else:
            delay = timedelta(seconds=(task.retry_seconds if task else 60) * 2 ** (claimed["attempts"] - 1))
            values.update(status=QUEUED, run_at=now + min(delay, MAX_BACKOFF), engine_job_id=None)
        with self.db.write() as conn:
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == claimed["id"], jobs.c.status == RUNNING, jobs.c.locked_by == self.worker_id)
                .values(**values)
            )
        if give_up:  # the error log (/admin/errors) keeps the traceback beside the request errors
            record_error(self.db, exc, method="JOB", path=f"{claimed['name']} #{claimed['id']}", at=now)

    def _recover_stalled(self, conn: Connection) -> int:
        """SQLite: requeue rows whose runner died (same host: its process is gone; any host: heartbeat too old)."""
        limit = wall_now() - timedelta(seconds=stalled_seconds())
        rows = conn.execute(
            sa.select(jobs.c.id, jobs.c.locked_by, jobs.c.heartbeat_at).where(jobs.c.status == RUNNING)
        ).all()
        lost = [r.id for r in rows if _runner_gone(r.locked_by) or (r.heartbeat_at or limit) < limit]
        if lost:
            log.warning("jobs %s were running on a worker that stopped; they will run again", lost)
            conn.execute(
                sa.update(jobs).where(jobs.c.id.in_(lost)).values(status=QUEUED, locked_by=None, heartbeat_at=None)
            )
        return len(lost)

    # -- administration ------------------------------------------------------------------------------------------

    def queue_depth(self) -> int:
        """Jobs due now and not yet finished (the tessera_job_queue_depth gauge)."""
        with self.db.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(jobs)
                    .where(jobs.c.status.in_([QUEUED, HANDED]), jobs.c.run_at <= self.app.clock.now())
                ).scalar_one()
            )

    def retry(self, job_id: int) -> bool:
        """Queue a failed job again, due now, with a fresh retry budget (the admin page's "retry" button)."""
        with self.db.write() as conn:
            done = conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == FAILED)
                .values(status=QUEUED, run_at=self.app.clock.now(), attempts=0, finished_at=None, engine_job_id=None)
            )
            return done.rowcount == 1

    def prune(self) -> int:
        """Delete done rows older than KEEP_DONE (run by the worker loop at most once an hour)."""
        now = wall_now()
        if self._pruned_at is not None and now - self._pruned_at < timedelta(hours=1):
            return 0
        self._pruned_at = now
        cutoff = self.app.clock.now() - KEEP_DONE
        with self.db.write() as conn:
            return conn.execute(sa.delete(jobs).where(jobs.c.status == DONE, jobs.c.finished_at < cutoff)).rowcount

    # -- background running (tessera serve, tessera worker) ------------------------------------------------------

    def start(self) -> None:
        """Start the in-process runner thread of `tessera serve` (does nothing unless ``enabled``)."""
        if not self.enabled or self._background is not None:
            return
        from runtime.jobs.runner import BackgroundRunner

        self._background = BackgroundRunner(self)
        self._background.start()

    def stop(self) -> None:
        if self._background is not None:
            self._background.stop()
            self._background = None

    def work(self, stop: threading.Event, *, concurrency: int = 1, poll_seconds: float = 1.0) -> None:
        """Run jobs in this thread until ``stop`` is set (`tessera worker`, and the serve thread)."""
        if self._pg is not None:
            self._pg.work(stop, concurrency=concurrency, poll_seconds=poll_seconds)
            return
        while not stop.is_set():
            try:
                self.run_pending()
                self.prune()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the worker
                log.exception("job runner pass failed; trying again")
            stop.wait(poll_seconds)


class _Heartbeat:
    """Refresh ``heartbeat_at`` while a job runs, so a long job is not mistaken for a dead worker's."""

    def __init__(self, owner: Jobs, job_id: int):
        self.owner, self.job_id = owner, job_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Heartbeat:
        self._thread = threading.Thread(target=self._beat, name="tessera-job-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _beat(self) -> None:
        every = stalled_seconds() / 3
        while not self._stop.wait(every):
            try:
                with self.owner.db.write() as conn:
                    conn.execute(
                        sa.update(jobs)
                        .where(jobs.c.id == self.job_id, jobs.c.locked_by == self.owner.worker_id)
                        .values(heartbeat_at=wall_now())
                    )
            except Exception:  # noqa: BLE001 - a missed beat only risks a duplicate run, which tasks tolerate
                log.warning("job heartbeat failed", exc_info=True)


def _runner_gone(locked_by: str | None) -> bool:
    """True when the row was claimed by a process of this machine that no longer exists."""
    if not locked_by:
        return True
    host, _, rest = locked_by.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
