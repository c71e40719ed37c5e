"""待办提醒 on the home page: how many of the user's tasks are overdue, and the first few of them."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from runtime.api.deps import tessera as get_tessera
from runtime.identity.users import User
from runtime.workflows import views
from ui.routes.tasks_common import Page
from ui.routes.tasks_inbox import decorate
from ui.session import ui_context

SHOWN = 5


def overdue_reminder(request: Request, user: User) -> dict[str, Any]:
    """{"count": n, "rows": first SHOWN overdue tasks, most overdue first}; count 0 hides the section."""
    p = Page(request, user, ui_context(request, user), get_tessera(request))
    items = views.inbox(p.host, p.ctx, overdue=True)
    return {"count": len(items), "rows": decorate(p, items[:SHOWN]) if items else []}
