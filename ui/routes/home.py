"""The home page: a welcome, the overdue-task reminder (待办提醒) and a tile for every menu entry."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ui.routes.tasks_reminder import overdue_reminder
from ui.session import page_language, require_user
from ui.templating import render, user_menus

router = APIRouter()


@router.get("/")
def home(request: Request) -> Response:
    user = require_user(request)
    lang = page_language(request, user)
    groups = user_menus(request, user, lang)
    reminder = overdue_reminder(request, user)
    return render(request, "home.html", user, groups=groups, reminder=reminder, page_title="home.title")
