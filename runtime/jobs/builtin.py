"""Jobs that belong to the platform itself rather than to a feature of issue 5."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.jobs.service import Jobs
    from runtime.services import Tessera


def register_builtin_tasks(jobs: Jobs, app: Tessera) -> None:
    """Workflow timers (BPMN timer events, SLA escalations) fire on a 15-second periodic job."""
    from runtime.workflows.jobs import workflow_timers

    jobs.task("workflow_timers", retries=0)(lambda _payload: workflow_timers(app))
    jobs.every("workflow_timers", seconds=15)
