"""The home page: a welcome and a tile for every menu entry."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ui.session import page_language, require_user
from ui.templating import render, user_menus

router = APIRouter()


@router.get("/")
def home(request: Request) -> Response:
    user = require_user(request)
    lang = page_language(request, user)
    groups = user_menus(request, user, lang)
    return render(request, "home.html", user, groups=groups, page_title="home.title")
