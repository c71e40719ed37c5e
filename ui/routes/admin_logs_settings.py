"""/admin/settings: system parameters and module switches (PL-22).

Values typed into a form are text; they are turned into the parameter's type where that is
unambiguous and otherwise handed over as typed, so ``Param.check`` gives its own message
("必须是整数", "至少 1") next to the input and nothing is stored. Every change goes through the
same ``Params`` methods as the API, which write the operation log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.api.deps import client_ip
from runtime.blueprints.model import label_text
from runtime.errors import NotFound, RecordInvalid
from runtime.oplog import Actor
from runtime.params import DECLARED, Param
from runtime.services import Tessera
from ui.i18n import MESSAGES, t
from ui.routes.admin_logs_common import AdminPage, local_time, require_admin
from ui.session import flash
from ui.templating import Crumb, render

router = APIRouter()
BASE = "/admin/settings"
INTEGER = re.compile(r"^[+-]?\d{1,18}$")


@dataclass
class ParamView:
    key: str
    label: str
    help: str
    kind: str
    """text, integer, number, boolean or choice: which input to show."""
    value: Any
    default: Any
    is_default: bool
    bounds: str
    changed: str
    choices: list[Any] = field(default_factory=list)
    shown: str = ""
    error: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False
    """A credential: a password input that never shows the stored value; left empty it stays unchanged."""
    is_set: bool = False


@dataclass
class ModuleView:
    pack_id: str
    name: str
    version: str
    enabled: bool
    entities: str


@router.get(BASE)
def settings_page(request: Request) -> HTMLResponse:
    return _page(request, require_admin(request))


@router.post(BASE + "/params/{key}")
async def change_param(key: str, request: Request) -> Response:
    page = require_admin(request)
    p = _declared(page, key)
    typed = str((await request.form()).get("value") or "")
    if p.secret and typed == "":  # the field is never filled in: empty means "keep the current one"
        flash(request, "success", page.t("logs.settings.unchanged", label=_label(p, page.lang)))
        return RedirectResponse(f"{BASE}#param-{key}", status_code=303)
    try:
        changed = page.app.params.change({key: _parse(p, typed)}, by=_actor(request, page), lang=page.lang)
    except RecordInvalid as exc:
        message = ("；" if page.lang == "zh" else "; ").join(e.message for e in exc.errors)
        return _page(request, page, status=422, failed=(key, typed, message))
    label = _label(p, page.lang)
    flash(request, "success", page.t("logs.settings.saved" if changed else "logs.settings.unchanged", label=label))
    return RedirectResponse(f"{BASE}#param-{key}", status_code=303)


@router.post(BASE + "/params/{key}/reset")
async def reset_param(key: str, request: Request) -> Response:
    page = require_admin(request)
    p = _declared(page, key)
    page.app.params.reset(key, by=_actor(request, page))
    flash(request, "success", page.t("logs.settings.was_reset", label=_label(p, page.lang)))
    return RedirectResponse(f"{BASE}#param-{key}", status_code=303)


@router.post(BASE + "/modules/{pack_id}")
async def switch_module(pack_id: str, request: Request) -> Response:
    page = require_admin(request)
    pack = page.app.registry.packs.get(pack_id)
    if pack is None:
        raise NotFound(page.t("logs.settings.unknown_module", id=pack_id[:40]))
    enabled = (await request.form()).get("enabled") == "true"
    page.app.params.set_module(pack_id, enabled, by=_actor(request, page))
    name = label_text(pack.manifest.get("name"), page.lang) or pack_id
    done = "logs.settings.switched_on" if enabled else "logs.settings.switched_off"
    flash(request, "success", page.t(done, name=name))
    return RedirectResponse(f"{BASE}#module-{pack_id}", status_code=303)


# page -------------------------------------------------------------------------------------------
def _page(
    request: Request, page: AdminPage, *, status: int = 200, failed: tuple[str, str, str] | None = None
) -> HTMLResponse:
    app, lang = page.app, page.lang
    params = [_param_view(app, row, lang) for row in app.params.all()]
    for view in params:
        if failed and view.key == failed[0]:
            view.shown, view.error = ("" if view.secret else failed[1]), failed[2]
    return render(
        request,
        "admin/logs/settings.html",
        page.user,
        status=status,
        crumbs=[Crumb(page.t("logs.hub.title"), "/admin"), Crumb(page.t("logs.settings.title"))],
        page_title="logs.settings.title",
        params=params,
        modules=_modules(app, lang),
        failed=failed is not None,
        base=BASE,
    )


def _param_view(app: Tessera, row: dict[str, Any], lang: str) -> ParamView:
    p = DECLARED[row["key"]]
    kind = "choice" if p.choices else row["type"]
    bounds = ""
    if p.min is not None and p.max is not None:
        template = "logs.settings.length" if p.type is str else "logs.settings.range"
        bounds = t(lang, template, min=_number(p.min), max=_number(p.max))
    changed = ""
    if row.get("updated_at"):
        who = _username(app, row.get("updated_by"))
        changed = t(lang, "logs.settings.changed_by", when=local_time(row["updated_at"]), who=who)
    return ParamView(
        key=p.key,
        label=_label(p, lang),
        help=_help(p, lang),
        kind=kind,
        value=row["value"],
        default=p.default,
        is_default=not row["is_set"] if p.secret else row["value"] == p.default,
        bounds=bounds,
        changed=changed,
        choices=list(p.choices or ()),
        shown=_shown(row["value"]),
        minimum=p.min if p.type is not str else None,
        maximum=p.max if p.type is not str else None,
        secret=p.secret,
        is_set=bool(row.get("is_set")),
    )


def _modules(app: Tessera, lang: str) -> list[ModuleView]:
    out = []
    for pack_id in sorted(app.registry.packs):
        pack = app.registry.packs[pack_id]
        entities = sorted(e.label_in(lang) for e in pack.entities.values())
        out.append(
            ModuleView(
                pack_id=pack_id,
                name=label_text(pack.manifest.get("name"), lang) or pack_id,
                version=str(pack.version),
                enabled=app.params.module_enabled(pack_id),
                entities=("、" if lang == "zh" else ", ").join(entities),
            )
        )
    return out


# helpers ----------------------------------------------------------------------------------------
def _declared(page: AdminPage, key: str) -> Param:
    p = DECLARED.get(key)
    if p is None:
        raise NotFound(page.t("logs.settings.unknown_param", name=key[:100]))
    return p


def _actor(request: Request, page: AdminPage) -> Actor:
    return Actor(page.user.id, page.user.username, client_ip(request), getattr(request.state, "request_id", None))


def _parse(p: Param, typed: str) -> Any:
    """The typed text as the parameter's type when it clearly is one; else as typed (check names the problem)."""
    text = typed.strip()
    if p.type is bool:
        return {"true": True, "false": False}.get(text, text)
    if p.type is int:
        return int(text) if INTEGER.match(text) else text
    if p.type is float:
        try:
            return float(text)
        except ValueError:
            return text
    if p.choices and p.type is not str:
        return text
    return typed


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return "" if value is None else str(value)


def _label(p: Param, lang: str) -> str:
    return label_text(p.label, lang) if p.label else p.key


def _help(p: Param, lang: str) -> str:
    if p.description:
        return label_text(p.description, lang)
    key = f"logs.settings.help.{p.key}"
    return t(lang, key) if key in MESSAGES else ""


def _username(app: Tessera, user_id: int | None) -> str:
    if user_id is None:
        return "—"
    user = app.users.get(user_id)
    return (user.display_name or user.username) if user else f"#{user_id}"


def _number(value: float) -> str:
    """1000000 -> '1,000,000' (not '1e+06')."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"
