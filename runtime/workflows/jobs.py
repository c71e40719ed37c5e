"""A tiny in-process job runner: named jobs run every N seconds on one background thread.

The workflow timers are its first job (``workflow_timers``: WorkflowHost.tick). Issue 5 (reminders,
notifications, sync) registers more jobs behind the same interface; a distributed runner on PostgreSQL
can replace this class without changing the jobs, which are idempotent (a tick run twice does nothing more).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("tessera.jobs")


@dataclass
class Job:
    name: str
    every_seconds: float
    run: Callable[[], object]
    next_at: float = 0.0


class JobRunner:
    def __init__(self, *, poll_seconds: float = 1.0):
        self.jobs: dict[str, Job] = {}
        self.enabled = False
        """Only `tessera serve` enables the loop; tests and scripts call the jobs themselves."""
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, name: str, every_seconds: float, run: Callable[[], object]) -> None:
        self.jobs[name] = Job(name, every_seconds, run)

    def run_due(self, now: float | None = None) -> list[str]:
        """Run every job whose time has come; a failing job is logged and retried at its next turn."""
        now = time.monotonic() if now is None else now
        ran = []
        for job in list(self.jobs.values()):
            if now < job.next_at:
                continue
            job.next_at = now + job.every_seconds
            try:
                job.run()
                ran.append(job.name)
            except Exception:  # noqa: BLE001 - one failing job must not stop the loop
                log.exception("job %s failed", job.name)
        return ran

    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="tessera-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            self._stop.wait(self.poll_seconds)
