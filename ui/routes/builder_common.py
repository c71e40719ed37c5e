"""What every builder page of helper BC shares: the designer gate, the workspace, crumbs and problem texts.

The builder changes what every user of the hospital sees, so each page checks the designer right
itself (admins or roles holding "designer") instead of trusting a hidden menu entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from markupsafe import Markup

from runtime.api.deps import tessera as get_tessera
from runtime.blueprints.model import label_text
from runtime.errors import Forbidden
from runtime.identity.users import User
from runtime.records import Context
from ui.i18n import pick_language, t
from ui.session import require_user, ui_context
from ui.templating import Crumb

#: Folders of a pack the builder lists, in the order of the overview page, with their editor URL segment.
KINDS: tuple[tuple[str, str, str], ...] = (
    # (folder in the pack, URL segment of the editor, icon)
    ("forms", "forms", "bi-ui-checks"),
    ("entities", "entities", "bi-database"),
    ("views", "views", "bi-table"),
    ("workflows", "flows", "bi-diagram-3"),
    ("rules", "rules", "bi-lightning-charge"),
    ("templates", "templates", "bi-envelope-paper"),
    ("scores", "scores", "bi-speedometer2"),
    ("reports", "reports", "bi-bar-chart-line"),
    ("followups", "followups", "bi-calendar2-week"),
)
#: Tab groups of the builder's own tab bar (_nav.html): tab -> folders it lists.
GROUPS: dict[str, tuple[str, ...]] = {
    "forms": ("forms",),
    "entities": ("entities",),
    "views": ("views",),
    "flows": ("workflows",),
    "automation": ("rules", "templates", "scores", "followups"),
    "reports": ("reports",),
}


@dataclass
class Designer:
    """The signed-in designer of a builder request and the services a page needs."""

    user: User
    ctx: Context
    app: Any

    @property
    def lang(self) -> str:
        return self.ctx.lang

    def t(self, key: str, **params: Any) -> str:
        return t(self.ctx.lang, key, **params)

    def workspace(self) -> Any:
        """BA's authoring core; imported here so a missing builder package fails only the builder pages."""
        from builder.workspace import Workspace

        return Workspace(self.app)


def is_designer(app: Any, ctx: Context) -> bool:
    """Admins and holders of the role right "designer" may use the builder (the contract's rule)."""
    if ctx.is_admin:
        return True
    try:
        return bool(app.permissions.has_right(ctx, "designer"))
    except Exception:  # noqa: BLE001 - a broken permission lookup must hide the builder, not break every page
        return False


def require_designer(request: Request) -> Designer:
    """The signed-in user if they may design; others get the 403 page (LoginRequired for anonymous visitors)."""
    user = require_user(request)
    ctx = ui_context(request, user)
    app = get_tessera(request)
    if not is_designer(app, ctx):
        raise Forbidden(t(ctx.lang, "builder.forbidden"))
    return Designer(user, ctx, app)


def pack_label(app: Any, pack_id: str, lang: str) -> str:
    """The deployed pack's name in the user's language (the id when the registry does not know it)."""
    pack = getattr(app.registry, "packs", {}).get(pack_id) if hasattr(app.registry, "packs") else None
    manifest = getattr(pack, "manifest", None) or {}
    name = manifest.get("name") if isinstance(manifest, dict) else None
    return label_text(name, lang) or pack_id


def crumbs(d: Designer, pack_id: str | None = None, pack_name: str | None = None, *tail: Crumb) -> list[Crumb]:
    """Home > 设计器 > <pack> > ... for every builder page."""
    out = [Crumb(d.t("nav.home"), "/"), Crumb(d.t("builder.title"), "/builder")]
    if pack_id:
        out.append(Crumb(pack_name or pack_id, f"/builder/{pack_id}"))
    out.extend(tail)
    return out


def problem_rows(problems: list[Any], lang: str) -> list[dict[str, Any]]:
    """Problems (dicts or PackError objects) as rows a page shows: file, where, message in the user's language."""
    rows = []
    for p in problems:
        get = p.get if isinstance(p, dict) else (lambda k, _p=p: getattr(_p, k, None))
        rows.append(
            {
                "file": get("file") or "",
                "pointer": get("pointer") or "",
                "message": pick_language(str(get("message") or ""), lang),
                "line": get("line"),
            }
        )
    return rows


def pack_errors(exc: Exception) -> list[Any]:
    """The problem list of a PackInvalid (or one row made of any other error's message)."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        return errors
    return [{"file": "", "pointer": "", "message": getattr(exc, "message", None) or str(exc)}]


def script_json(value: Any) -> Markup:
    """JSON for a <script type="application/json"> block that keeps the key order (Jinja's tojson sorts keys,
    and the editors draw the fields of a schema in its own order); <, >, & and ' are escaped as tojson does."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("'", "\\u0027")):
        text = text.replace(char, escaped)
    return Markup(text)  # noqa: S704 - escaped above, the same way Jinja's tojson does
