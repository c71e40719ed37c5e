"""Jinja2 environment and the context every page shares (user, language, menus, CSRF token, toasts).

Autoescaping is on for every .html template and no template marks user data as safe, so a
record titled "<script>" is shown as text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from runtime.api import deps
from runtime.api.deps import tessera as get_tessera
from runtime.blueprints.model import label_text
from runtime.identity.users import User
from runtime.registry import Registry
from ui.assets import vendor_url
from ui.csrf import csrf_token
from ui.formatting import ink
from ui.i18n import t
from ui.session import current_path, page_language, pop_flashes

UI_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = UI_DIR / "templates"
STATIC_DIR = UI_DIR / "static"


@dataclass
class MenuNode:
    label: str
    href: str | None
    icon: str | None
    view: str | None = None
    entity: str | None = None
    active: bool = False
    children: list[MenuNode] = field(default_factory=list)
    reads: tuple[str, ...] = ()
    """The entities a linked pack page shows (a report's, a pool's, a shipped segment's, a dashboard's items'):
    the entry is for those who may read one of them, like a view's entry."""


@dataclass
class Crumb:
    label: str
    href: str | None = None


@cache
def _static_hash(path: str) -> str:
    file = STATIC_DIR / "ui" / path
    return hashlib.sha256(file.read_bytes()).hexdigest()[:10] if file.is_file() else "0"


def static_url(path: str) -> str:
    """URL of a file under ui/static/ui/ with a content hash, so browsers never run a stale script."""
    return f"/static/ui/{path}?v={_static_hash(path)}"


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(vendor_url=vendor_url, static_url=static_url, urlencode=urlencode)
    env.filters["ink"] = ink
    return env


ENV = _env()


def menu_tree(
    registry: Registry,
    lang: str,
    active_view: str | None,
    active_entity: str | None,
    menus: list[dict[str, Any]] | None = None,
    readable: Callable[[str], bool] | None = None,
) -> list[MenuNode]:
    """Menus of every deployed pack; the item for the current view (or entity) is highlighted.

    `readable(entity_id)` leaves out entries of entities the user may not read, and groups left
    empty by that: a menu entry that only leads to a "not allowed" page is noise.
    """

    def node(item: dict[str, Any]) -> MenuNode:
        view_id, entity_id = item.get("view"), item.get("entity")
        if view_id:
            href: str | None = f"/v/{view_id}"
            view = registry.views.get(view_id)
            entity_id = entity_id or (view.entity if view else None)
        elif entity_id:
            href = f"/r/{entity_id}"
        else:
            href = item.get("url")
        return MenuNode(
            label_text(item.get("label"), lang),
            href,
            item.get("icon"),
            view_id,
            entity_id,
            children=[node(c) for c in item.get("items", [])],
            reads=(entity_id,) if entity_id else _page_entities(registry, href),
        )

    roots = [node(m) for m in (registry.menus() if menus is None else menus)]
    if readable is not None:
        roots = _prune(roots, readable)
    flat = [n for r in roots for n in _walk(r)]
    match = next((n for n in flat if active_view and n.view == active_view), None)
    if match is None and active_entity:
        match = next((n for n in flat if n.entity == active_entity and n.href), None)
    if match is not None:
        match.active = True
    for r in roots:
        r.active = r.active or any(c.active for c in _walk(r))
    return roots


_PAGE_KINDS = {"reports": "report", "pools": "pool", "segments": "segment"}
"""URL prefixes of pack pages whose document names the entity they show (/reports/<id>, ...)."""


def _page_entities(registry: Registry, href: str | None) -> tuple[str, ...]:
    parts = (href or "").strip("/").split("/")
    if len(parts) != 2:
        return ()
    if parts[0] == "dashboards":  # a board whose reports and schedules are all unreadable is only refusals
        return _dashboard_entities(registry, registry.extras("dashboard").get(parts[1]))
    if parts[0] not in _PAGE_KINDS:
        return ()
    doc = registry.extras(_PAGE_KINDS[parts[0]]).get(parts[1])
    entity = doc.get("entity") if isinstance(doc, dict) else None
    return (entity,) if entity else ()


def _dashboard_entities(registry: Registry, doc: Any) -> tuple[str, ...]:
    """The entities a dashboard's items show: their reports' (a combined item's columns too) and their
    schedule sources'."""
    if not isinstance(doc, dict):
        return ()
    reports = registry.extras("report")
    found: list[str] = []
    for item in (i for i in doc.get("items", []) if isinstance(i, dict)):
        for ref in [item, *item.get("columns", [])]:
            report = reports.get(ref.get("report", ""))
            found.append(report.get("entity", "") if isinstance(report, dict) else "")
        found += [src.get("entity", "") for src in item.get("sources", [])]
    return tuple(dict.fromkeys(e for e in found if e))


def _prune(nodes: list[MenuNode], readable: Callable[[str], bool]) -> list[MenuNode]:
    kept = []
    for n in nodes:
        if n.children:
            n.children = _prune(n.children, readable)
            if not n.children and not n.href:
                continue
        elif n.reads and not any(readable(e) for e in n.reads):
            continue
        kept.append(n)
    return kept


def user_menus(
    request: Request, user: User, lang: str, active_view: str | None = None, active_entity: str | None = None
) -> list[MenuNode]:
    """The signed-in user's navigation: switched-on modules only, entities they may read only."""
    app = get_tessera(request)
    ctx = deps.context(request, user, channel="ui")

    def readable(entity_id: str) -> bool:
        return entity_id in app.registry.entities and app.permissions.can(ctx, entity_id, "read")

    return menu_tree(app.registry, lang, active_view, active_entity, app.params.enabled_menus(app.registry), readable)


def _rights(request: Request, user: User | None) -> Callable[[str, str], bool]:
    """`can(entity_id, action)` for templates: buttons for actions the user may not take are not shown."""
    if user is None:
        return lambda entity_id, action: False
    app = get_tessera(request)
    ctx = deps.context(request, user, channel="ui")
    return lambda entity_id, action: app.permissions.can(ctx, entity_id, action)


def _designer(request: Request, user: User | None) -> Callable[[], bool]:
    """`is_designer()` for the menu: the builder entry is shown to admins and holders of the "designer" right only
    (asked lazily, so pages that never show the menu pay nothing)."""

    def check() -> bool:
        if user is None:
            return False
        if user.is_admin:
            return True
        from ui.routes.builder_common import is_designer

        return is_designer(get_tessera(request), deps.context(request, user, channel="ui"))

    return check


def _walk(n: MenuNode) -> list[MenuNode]:
    return [n, *(x for c in n.children for x in _walk(c))]


def with_lang(request: Request, lang: str) -> str:
    """A link that switches the language and comes back to this page."""
    return "/lang/" + lang + "?" + urlencode({"next": current_path(request)})


def render(
    request: Request,
    template: str,
    user: User | None,
    *,
    status: int = 200,
    active_view: str | None = None,
    active_entity: str | None = None,
    crumbs: list[Crumb] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    lang = page_language(request, user)
    base: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "t": lambda key, **kw: t(lang, key, **kw),
        "user": user,
        "menus": user_menus(request, user, lang, active_view, active_entity) if user else [],
        "can": _rights(request, user),
        "is_designer": _designer(request, user),
        "csrf_token": csrf_token(request) if "session" in request.scope else "",
        "flashes": pop_flashes(request) if "session" in request.scope else [],
        "crumbs": crumbs or [],
        "request_id": getattr(request.state, "request_id", ""),
        "lang_urls": {code: with_lang(request, code) for code in ("zh", "en")},
        "current_path": current_path(request),
        "page_title": "",
    }
    base.update(context)
    html = ENV.get_template(template).render(base)
    return HTMLResponse(html, status_code=status, headers=headers)


def render_fragment(request: Request, template: str, user: User | None, **context: Any) -> str:
    """A partial template (htmx responses) with the same helpers as full pages."""
    lang = page_language(request, user)
    base = {
        "request": request,
        "lang": lang,
        "t": lambda key, **kw: t(lang, key, **kw),
        "user": user,
        "csrf_token": csrf_token(request),
    }
    base.update(context)
    return ENV.get_template(template).render(base)
