"""My API tokens (PL-21): list, create (shown once), revoke.

A new token is part of the answer to the POST only (never stored, never in the session, never in a
redirect), sent with ``Cache-Control: no-store``: reloading the page, which is a GET, cannot show it
again. With htmx the form swaps the tokens panel in place, so the address stays /account/tokens.
Roles offered are the person's own; the runtime refuses any other for non-administrators, and the
page refuses them for everybody so a token never looks broader than its owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from runtime.api.deps import record_id
from runtime.api.deps import tessera as get_tessera
from runtime.clock import utc_to_local
from runtime.errors import BadRequest, NotFound
from runtime.identity.token_service import EXPIRY_CHOICES, create_token, revoke_token, token_manager, token_status
from runtime.identity.tokens import MAX_NAME, TokenInfo
from runtime.identity.users import User
from runtime.services import Tessera
from ui.i18n import t
from ui.routes.account_common import account_crumbs, ui_caller
from ui.session import flash, is_htmx, page_language, require_user
from ui.templating import render

router = APIRouter()
DEFAULT_EXPIRY = "90"
NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    prefix: str
    roles: list[str]
    created: str
    expires: str | None
    last_used: str | None
    status: str


def _when(at: datetime | None) -> str | None:
    return utc_to_local(at).strftime("%Y-%m-%d %H:%M") if at else None


def _role_labels(app: Tessera, lang: str, ids: list[str] | tuple[str, ...]) -> list[str]:
    roles = app.registry.roles
    return [roles[r].label_in(lang) if r in roles else r for r in ids]


def _rows(app: Tessera, user: User, lang: str) -> list[TokenRow]:
    now = app.clock.now()
    return [
        TokenRow(
            info.id,
            info.name,
            info.prefix,
            _role_labels(app, lang, info.roles),
            _when(info.created_at) or "",
            _when(info.expires_at),
            _when(info.last_used_at),
            token_status(info, now),
        )
        for info in token_manager(app).list(user.id)
    ]


def _own_roles(app: Tessera, user: User, lang: str) -> list[dict[str, str]]:
    held = sorted(token_manager(app).user_roles(user.id))
    return [{"id": r, "label": label} for r, label in zip(held, _role_labels(app, lang, held), strict=True)]


def _expiry_value(days: int | None) -> str:
    return str(days) if days else "never"


def _expiry_options(lang: str) -> list[dict[str, str]]:
    def label(days: int | None) -> str:
        return t(lang, "account.tokens.expiry_days", days=days) if days else t(lang, "account.tokens.expiry_never")

    return [{"value": _expiry_value(days), "label": label(days)} for days in EXPIRY_CHOICES]


def _page(
    request: Request,
    user: User,
    *,
    status: int = 200,
    created: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> Response:
    app, lang = get_tessera(request), page_language(request, user)
    return render(
        request,
        "account/tokens.html",
        user,
        status=status,
        headers=NO_STORE,
        crumbs=account_crumbs(lang, t(lang, "account.tab_tokens")),
        page_title="account.tab_tokens",
        tab="tokens",
        tokens=_rows(app, user, lang),
        own_roles=_own_roles(app, user, lang),
        expiry_options=_expiry_options(lang),
        created=created,
        values=values or {"name": "", "roles": [], "expiry": DEFAULT_EXPIRY},
        errors=errors or {},
    )


@router.get("/account/tokens")
def tokens_page(request: Request) -> Response:
    user = require_user(request)
    return _page(request, user)


def _check(app: Tessera, user: User, values: dict[str, Any], lang: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = values["name"]
    if not name:
        errors["name"] = [t(lang, "account.tokens.name_missing")]
    elif len(name) > MAX_NAME:
        errors["name"] = [t(lang, "account.tokens.name_too_long", max=MAX_NAME)]
    held = token_manager(app).user_roles(user.id)
    foreign = [r for r in values["roles"] if r not in held]
    if foreign:
        errors["roles"] = [t(lang, "account.tokens.role_not_held", roles=", ".join(r[:40] for r in foreign[:5]))]
    if values["expiry"] not in {_expiry_value(d) for d in EXPIRY_CHOICES}:
        errors["expiry"] = [t(lang, "account.tokens.expiry_invalid")]
    return errors


@router.post("/account/tokens")
async def create(request: Request) -> Response:
    user = require_user(request)
    app, lang = get_tessera(request), page_language(request, user)
    form = await request.form()
    values = {
        "name": str(form.get("name") or "").strip()[: MAX_NAME + 1],
        "roles": list(dict.fromkeys(str(r)[:40] for r in form.getlist("roles")))[:50],
        "expiry": str(form.get("expiry") or ""),
    }
    bad_status = 200 if is_htmx(request) else 422  # htmx swaps only successful answers
    errors = _check(app, user, values, lang)
    if not errors:
        days = None if values["expiry"] == "never" else int(values["expiry"])
        expires_at = app.clock.now() + timedelta(days=days) if days else None
        try:
            raw, info = create_token(
                app, user, user, values["name"], roles=values["roles"], expires_at=expires_at, caller=ui_caller(request)
            )
        except BadRequest:  # e.g. a NUL or lone surrogate in the name: the runtime refuses to store it
            errors = {"name": [t(lang, "account.tokens.name_invalid")]}
        else:
            return _page(request, user, status=200 if is_htmx(request) else 201, created=_created(info, raw))
    return _page(request, user, status=bad_status, values=values, errors=errors)


def _created(info: TokenInfo, raw: str) -> dict[str, Any]:
    return {"id": info.id, "name": info.name, "token": raw}


@router.post("/account/tokens/{token_id}/revoke")
def revoke(token_id: str, request: Request) -> Response:
    user = require_user(request)
    app, lang = get_tessera(request), page_language(request, user)
    info = token_manager(app).get(record_id(token_id))
    if info.user_id != user.id:
        raise NotFound(f"no API token {token_id}")  # someone else's token: as if it did not exist
    revoke_token(app, user, info, caller=ui_caller(request))
    key = "account.tokens.revoked" if info.revoked_at is None else "account.tokens.already_revoked"
    flash(request, "success", t(lang, key, name=info.name))
    return RedirectResponse("/account/tokens", status_code=303)
