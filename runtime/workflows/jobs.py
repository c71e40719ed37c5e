"""The workflow timers as a job of ``app.jobs`` (runtime/jobs): a periodic ``workflow_timers`` every 15 seconds.

The former in-process JobRunner of this module is retired: runtime/jobs runs every background job, in
`tessera serve`, in `tessera worker` processes or on procrastinate (PostgreSQL). A tick is idempotent (a timer
that fired is marked so), which is what a job running at least once needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.services import Tessera


def workflow_timers(app: Tessera) -> None:
    """Fire the workflow timers that are due by the application clock."""
    app.workflows.tick()
