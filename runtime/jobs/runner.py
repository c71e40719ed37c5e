"""The in-process job runner of `tessera serve`: the same loop as `tessera worker`, on a background thread."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.jobs.service import Jobs

log = logging.getLogger("tessera.jobs")


class BackgroundRunner:
    def __init__(self, jobs: Jobs, *, poll_seconds: float = 1.0):
        self.jobs = jobs
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tessera-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _run(self) -> None:
        try:
            self.jobs.work(self._stop, poll_seconds=self.poll_seconds)
        except Exception:  # noqa: BLE001 - the web server keeps serving; the log says why jobs stopped
            log.exception("the in-process job runner stopped")
