"""PostgreSQL: procrastinate runs the jobs, on as many workers and machines as the deployment starts.

The ``tessera_jobs`` row stays the source of truth (idempotency key, due time in the app clock, attempts, the
admin page). When a row is due it is *handed over*: in one transaction the row is locked (FOR UPDATE SKIP
LOCKED, so concurrent workers split the rows), a procrastinate job ``tessera_job(job_id=...)`` is created
with procrastinate's own SQL function and the row is marked ``handed`` with that job's id. The procrastinate
job then claims the row with its own id, which makes the run exactly-once while the worker lives, and lets
procrastinate's stalled-job recovery (worker heartbeats) run it again, and only it, when the worker died.

Retries of a *failing* task are scheduled on the row (due time in the app clock, so tests can fast-forward);
procrastinate's part is distribution, locking, heartbeats and the recovery of jobs of dead workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from typing import TYPE_CHECKING

import procrastinate
import sqlalchemy as sa

from runtime.jobs.tables import HANDED, QUEUED, RUNNING, jobs

if TYPE_CHECKING:
    from runtime.jobs.service import Jobs

log = logging.getLogger("tessera.jobs")

QUEUE = "tessera"
TASK = "tessera_job"
HAND_OVER_BATCH = 200

_DEFER = sa.text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, CAST(:args AS jsonb), NULL)"
    "::procrastinate_job_to_defer_v1])) AS id"
)


def conninfo(url: str) -> str:
    """libpq URI of the app's SQLAlchemy URL (procrastinate talks psycopg 3)."""
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ProcrastinateEngine:
    def __init__(self, owner: Jobs):
        self.owner = owner
        self.conninfo = conninfo(owner.db.url)

    def _app(self, *, max_size: int) -> procrastinate.App:
        """A procrastinate App for one run (its pool lives only as long as the run: nothing leaks between tests)."""
        connector = procrastinate.PsycopgConnector(
            conninfo=self.conninfo, min_size=1, max_size=max_size, kwargs={"application_name": "tessera-jobs"}
        )
        app = procrastinate.App(connector=connector)
        owner = self.owner

        @app.task(name=TASK, queue=QUEUE, pass_context=True)
        def tessera_job(context: procrastinate.JobContext, job_id: int) -> None:
            engine_job_id = context.job.id
            claimed = owner.claim_handed(job_id, engine_job_id)
            if claimed is None:  # done already, or the row belongs to another procrastinate job
                log.info("job %s: nothing to do for procrastinate job %s", job_id, engine_job_id)
                return
            owner.execute(claimed)

        return app

    # -- hand over -------------------------------------------------------------------------------------------------

    def hand_over(self, *, limit: int = HAND_OVER_BATCH) -> int:
        """Give procrastinate every due queued row (atomically: the row is handed iff its job exists)."""
        now = self.owner.app.clock.now()
        with self.owner.db.write() as conn:
            ids = (
                conn.execute(
                    sa.select(jobs.c.id)
                    .where(jobs.c.status == QUEUED, jobs.c.run_at <= now)
                    .order_by(jobs.c.run_at, jobs.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            for job_id in ids:
                engine_id = conn.execute(
                    _DEFER, {"queue": QUEUE, "task": TASK, "args": json.dumps({"job_id": job_id})}
                ).scalar_one()
                conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(status=HANDED, engine_job_id=engine_id))
        return len(ids)

    def reconcile(self) -> int:
        """Requeue rows whose procrastinate job ended without finishing them (e.g. the final write failed)."""
        with self.owner.db.write() as conn:
            lost = conn.execute(
                sa.text(
                    "UPDATE tessera_jobs SET status = :queued, engine_job_id = NULL, locked_by = NULL"
                    " WHERE status IN (:handed, :running) AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs p"
                    " WHERE p.id = tessera_jobs.engine_job_id AND p.status IN ('todo', 'doing'))"
                ),
                {"queued": QUEUED, "handed": HANDED, "running": RUNNING},
            ).rowcount
        if lost:
            log.warning("%s job(s) whose procrastinate job ended unfinished are queued again", lost)
        return lost

    # -- burst: run_pending --------------------------------------------------------------------------------------

    def run_pending(self, *, max_jobs: int | None = None) -> int:
        """Hand over due rows, then a procrastinate worker in burst mode (wait=False) until nothing is left."""
        ran = 0
        self.reconcile()
        while max_jobs is None or ran < max_jobs:
            handed = self.hand_over(limit=HAND_OVER_BATCH if max_jobs is None else max_jobs - ran)
            if handed == 0 and not self._has_todo():
                break
            _run_coroutine(self._burst())
            ran += handed
        return ran

    def _has_todo(self) -> bool:
        with self.owner.db.read() as conn:
            return bool(
                conn.execute(
                    sa.text(
                        "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE queue_name = :q AND status = 'todo'"
                        " AND (scheduled_at IS NULL OR scheduled_at <= now()))"
                    ),
                    {"q": QUEUE},
                ).scalar_one()
            )

    async def _burst(self) -> None:
        app = self._app(max_size=2)
        async with app.open_async():
            await app.run_worker_async(
                queues=[QUEUE],
                wait=False,
                install_signal_handlers=False,
                listen_notify=False,
                concurrency=1,
                delete_jobs="successful",  # the tessera_jobs row keeps the history
            )

    # -- long-running: tessera worker / tessera serve --------------------------------------------------------------

    def work(self, stop: threading.Event, *, concurrency: int = 1, poll_seconds: float = 1.0) -> None:
        """A procrastinate worker plus the scheduler (periodic slots, hand-over, stalled recovery) until ``stop``."""
        _run_coroutine(self._work(stop, concurrency=concurrency, poll_seconds=poll_seconds))

    async def _work(self, stop: threading.Event, *, concurrency: int, poll_seconds: float) -> None:
        from runtime.jobs.service import stalled_seconds

        stalled = stalled_seconds()
        app = self._app(max_size=concurrency + 3)
        async with app.open_async():
            worker = asyncio.create_task(
                app.run_worker_async(
                    queues=[QUEUE],
                    wait=True,
                    install_signal_handlers=False,
                    concurrency=concurrency,
                    fetch_job_polling_interval=poll_seconds,
                    update_heartbeat_interval=max(0.5, stalled / 3),
                    stalled_worker_timeout=stalled,
                    shutdown_graceful_timeout=30,
                    delete_jobs="successful",  # the tessera_jobs row keeps the history
                )
            )
            try:
                while not stop.is_set() and not worker.done():
                    await self._scheduler_pass(app, stalled)
                    await asyncio.sleep(poll_seconds)
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    async def _scheduler_pass(self, app: procrastinate.App, stalled: float) -> None:
        try:
            await asyncio.to_thread(self.owner.schedule_periodic)
            await asyncio.to_thread(self.reconcile)
            await asyncio.to_thread(self.hand_over)
            await asyncio.to_thread(self.owner.prune)
            for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled):
                log.warning("procrastinate job %s ran on a worker that stopped; it will run again", job.id)
                await app.job_manager.retry_job(job)
        except Exception:  # noqa: BLE001 - a database hiccup must not end the worker
            log.exception("job scheduler pass failed; trying again")


def _run_coroutine(coro: object) -> None:
    """asyncio.run here, or on a helper thread when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)  # type: ignore[arg-type]
        return
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="tessera-jobs-burst")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
