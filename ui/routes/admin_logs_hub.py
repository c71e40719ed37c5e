"""/admin: the administration hub, one tile per administration page.

Administrators see every tile. Someone holding only the 'admin' right of a role (checked by the runtime)
sees the tiles marked ``admin_right``: people management and the HIS message log; everyone else gets the
403 page.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from runtime.api.deps import tessera as get_tessera
from runtime.errors import Forbidden
from ui.i18n import t
from ui.session import require_user, ui_context
from ui.templating import Crumb, render

router = APIRouter()


@dataclass(frozen=True)
class Tile:
    key: str
    href: str
    icon: str
    admin_right: bool = False
    """Shown to holders of the 'admin' right too, not only to system administrators."""


GROUPS: tuple[tuple[str, str, tuple[Tile, ...]], ...] = (
    (
        "people",
        "bi-people",
        (
            Tile("users", "/admin/users", "bi-person-badge", admin_right=True),
            Tile("departments", "/admin/departments", "bi-diagram-3", admin_right=True),
            Tile("roles", "/admin/roles", "bi-shield-lock", admin_right=True),
            Tile("import", "/admin/users/import", "bi-file-earmark-arrow-up", admin_right=True),
        ),
    ),
    (
        "logs",
        "bi-journal-text",
        (
            Tile("audit", "/admin/audit", "bi-clock-history"),
            Tile("oplog", "/admin/oplog", "bi-activity"),
            Tile("errors", "/admin/errors", "bi-bug"),
            Tile("his", "/admin/his", "bi-hospital", admin_right=True),  # HIS message log (ui/routes/admin_his.py)
        ),
    ),
    (
        "system",
        "bi-sliders",
        (
            Tile("settings", "/admin/settings", "bi-toggles"),
            Tile("jobs", "/admin/jobs", "bi-hourglass-split"),
            Tile("rules", "/admin/rules", "bi-lightning-charge"),  # automation rules (ui/routes/rules_admin.py)
            Tile("templates", "/admin/templates", "bi-chat-square-text"),  # message templates (notifications_admin)
            Tile("deliveries", "/admin/deliveries", "bi-send-check"),  # the delivery log (notifications_admin)
            Tile("tokens", "/account/tokens", "bi-key"),
        ),
    ),
)


@router.get("/admin")
def hub(request: Request) -> HTMLResponse:
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    manages_people = user.is_admin or app.permissions.has_right(ctx, "admin")
    if not manages_people:
        raise Forbidden(t(ctx.lang, "logs.forbidden"))
    shown = [(key, icon, [t for t in tiles if user.is_admin or t.admin_right]) for key, icon, tiles in GROUPS]
    groups = [(key, icon, tiles) for key, icon, tiles in shown if tiles]
    return render(
        request,
        "admin/hub.html",
        user,
        crumbs=[Crumb(t(ctx.lang, "nav.home"), "/"), Crumb(t(ctx.lang, "logs.hub.title"))],
        page_title="logs.hub.title",
        groups=groups,
    )
