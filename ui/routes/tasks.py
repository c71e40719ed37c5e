"""Pages of the task inbox and workflows (PL-15): one module per page kind, registered here.

* ``tasks_inbox``: 我的待办 (/tasks), the sidebar badge, claiming a pool task
* ``tasks_page``: one task with its form, outcomes, delegate and reassign
* ``tasks_workflows``: starting a process, an instance's page with the diagram, a record's 流程 card
"""

from __future__ import annotations

from fastapi import APIRouter

from ui.routes import tasks_inbox, tasks_page, tasks_workflows

router = APIRouter()
for module in (tasks_inbox, tasks_page, tasks_workflows):  # the inbox first: /tasks/_count before /tasks/{id}
    router.include_router(module.router)
