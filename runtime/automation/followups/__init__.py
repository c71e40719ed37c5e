"""Follow-up plans (issue 5 part 3): timelines of steps relative to an anchor date of a record, and the work
items their human steps create. ``install_followups(app)`` wires both into the application."""

from __future__ import annotations

from typing import Any

from runtime.automation.followups.adjust import Adjustments
from runtime.automation.followups.service import STEP_JOB, Followups


def install_followups(app: Any) -> None:
    """``app.work_items``, ``app.followups`` (+ ``.adjust``), the write hook that starts plans, the step job
    and the work-item completion listener that evaluates alerts."""
    from runtime.automation.work_items import install_work_items

    app.work_items = install_work_items(app)
    followups = Followups(app)
    followups.adjust = Adjustments(followups)
    app.followups = followups
    app.hooks.after_write.append(followups.on_write)
    app.work_items.completed.append(followups.on_item_completed)
    app.jobs.task(STEP_JOB, retries=5, retry_seconds=60)(followups.run_step)
