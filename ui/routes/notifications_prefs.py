"""/account/notifications: which channels each kind of notification reaches the signed-in user by.

The grid is every notification kind (all kinds, then each deployed message template) × every channel;
saving stores the whole grid (runtime/notify/prefs.py), so what the page shows is what the notifier uses.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from runtime.api.deps import tessera as get_tessera
from runtime.blueprints.model import label_text
from runtime.notify import prefs
from runtime.notify.channels import CHANNELS
from runtime.storage import platform_tables as pt
from ui.i18n import t
from ui.session import flash, page_language, require_user
from ui.templating import Crumb, render

router = APIRouter()
PATH = "/account/notifications"


def kinds(app: Any, lang: str) -> list[dict[str, str]]:
    found = [{"id": prefs.ALL_KINDS, "label": t(lang, "notify.prefs.all_kinds")}]
    for ident, doc in sorted(app.notifier.templates().items()):
        found.append({"id": ident, "label": label_text(doc.get("label") or ident, lang)})
    return found


@router.get(PATH)
def preferences_page(request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    lang = page_language(request, user)
    rows = kinds(app, lang)
    with app.db.read() as conn:
        me = conn.execute(sa.select(pt.users).where(pt.users.c.id == user.id)).first()
        grid = prefs.effective(conn, me, [k["id"] for k in rows])
    return render(
        request,
        "notify/preferences.html",
        user,
        crumbs=[Crumb(t(lang, "nav.account"), "/account"), Crumb(t(lang, "notify.preferences"))],
        page_title="notify.preferences",
        kinds=rows,
        channels=CHANNELS,
        grid=grid,
        has_email=bool(me.email),
        has_phone=bool(me.phone),
    )


@router.post(PATH)
async def save_preferences(request: Request) -> Response:
    user = require_user(request)
    app = get_tessera(request)
    lang = page_language(request, user)
    post = await request.form()
    chosen = set(post.getlist("on"))
    grid = {k["id"]: {c: f"{k['id']}:{c}" in chosen for c in CHANNELS} for k in kinds(app, lang)}
    with app.db.write() as conn:
        prefs.save(conn, user.id, grid, app.clock.now())
    flash(request, "success", t(lang, "notify.prefs.saved"))
    return RedirectResponse(PATH, status_code=303)
