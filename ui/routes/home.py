"""The home page: a welcome, the overdue-task reminder (待办提醒) and a tile for every menu entry."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from runtime.api.deps import tessera as get_tessera
from ui.routes.tasks_reminder import overdue_reminder
from ui.session import page_language, require_user, ui_context
from ui.templating import render, user_menus

router = APIRouter()


@router.get("/")
def home(request: Request) -> Response:
    user = require_user(request)
    lang = page_language(request, user)
    groups = user_menus(request, user, lang)
    board = get_tessera(request).reports.home_dashboard(ui_context(request, user))
    if board is not None and any(i.get("kind") == "reminders" for i in board["items"]):
        reminder = {"count": 0, "rows": []}  # the role's dashboard shows the overdue tasks among its reminders
    else:
        reminder = overdue_reminder(request, user)
    return render(request, "home.html", user, groups=groups, reminder=reminder, page_title="home.title")
