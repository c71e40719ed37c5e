"""Pages of the account area: my profile, change my password, sign out everywhere (PL-21).

Tokens (/account/tokens) and the forgot/reset password pages live in account_tokens.py and
account_reset.py; their routers are included here. Every action goes through the same runtime
functions as the API (runtime.identity.account, .profile, .token_service, .reset_mail).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from runtime.api.deps import login_guard, sign_in
from runtime.api.deps import tessera as get_tessera
from runtime.identity.account import MAX_PASSWORD, WrongCurrentPassword, change_own_password, logout_everywhere
from runtime.identity.policy import PasswordRejected, violations
from runtime.identity.profile import (
    NOTIFY_CHANNELS,
    Profile,
    ProfileInvalid,
    clean_profile,
    get_profile,
    update_own_profile,
)
from runtime.identity.throttle import AccountLocked, TooManyAttempts
from runtime.identity.users import User
from ui.i18n import t
from ui.routes import account_reset, account_tokens
from ui.routes.account_common import account_crumbs, password_rules, ui_caller
from ui.session import flash, page_language, require_user
from ui.templating import render

router = APIRouter()
router.include_router(account_tokens.router)
router.include_router(account_reset.router)

PROFILE_FIELDS = ("display_name", "email", "phone")


def _profile_values(profile: Profile) -> dict[str, Any]:
    return {
        "display_name": profile.display_name,
        "email": profile.email or "",
        "phone": profile.phone or "",
        "notify_channels": list(profile.notify_channels),
    }


def _page(
    request: Request,
    user: User,
    *,
    values: dict[str, Any] | None = None,
    profile_errors: dict[str, list[str]] | None = None,
    password_errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> Response:
    lang = page_language(request, user)
    profile = get_profile(get_tessera(request), user.id)
    return render(
        request,
        "account/profile.html",
        user,
        status=status,
        crumbs=account_crumbs(lang, t(lang, "account.tab_profile")),
        page_title="account.title",
        tab="profile",
        profile=profile,
        values=values or _profile_values(profile),
        channels=NOTIFY_CHANNELS,
        profile_errors=profile_errors or {},
        password_errors=password_errors or {},
        rules=password_rules(lang),
    )


@router.get("/account")
def account_page(request: Request) -> Response:
    user = require_user(request)
    return _page(request, user)


@router.post("/account/profile")
async def save_profile(request: Request) -> Response:
    user = require_user(request)
    lang = page_language(request, user)
    form = await request.form()
    data: dict[str, Any] = {name: str(form.get(name) or "")[:1000] for name in PROFILE_FIELDS}
    data["notify_channels"] = [str(c) for c in form.getlist("notify_channels")][: len(NOTIFY_CHANNELS) * 2]
    current = str(form.get("email_password") or "")[:MAX_PASSWORD]
    app = get_tessera(request)
    try:
        values = clean_profile(data, lang)
        before = get_profile(app, user.id)
        guard = login_guard(request)
        after = update_own_profile(
            app, user, values, caller=ui_caller(request), guard=guard, current_password=current, lang=lang
        )
    except ProfileInvalid as exc:
        errors = {("email_password" if k == "current_password" else k): v for k, v in exc.errors.items()}
        return _page(request, user, values=data, profile_errors=errors, status=422)
    except (WrongCurrentPassword, AccountLocked, TooManyAttempts) as exc:
        return _page(request, user, values=data, profile_errors={"email_password": [exc.message]}, status=422)
    flash(request, "success", t(lang, "account.profile.saved" if after != before else "account.profile.unchanged"))
    return RedirectResponse("/account", status_code=303)


def _password_problems(form: Any, user: User, lang: str) -> tuple[dict[str, list[str]], str, str]:
    """Checks that need no database: filled in, the rules, the repeat; a wrong current password is
    only tried once these pass, so a typo in the new password does not count as a failed sign-in."""
    current = str(form.get("current_password") or "")[:MAX_PASSWORD]
    new = str(form.get("new_password") or "")[: MAX_PASSWORD + 1]
    repeat = str(form.get("repeat_password") or "")[: MAX_PASSWORD + 1]
    errors: dict[str, list[str]] = {}
    if not current:
        errors["current_password"] = [t(lang, "account.password.missing_current")]
    if not new:
        errors["new_password"] = [t(lang, "account.password.missing_new")]
    else:
        broken = [v.message(lang) for v in violations(new, user.username)]
        if broken:
            errors["new_password"] = broken
        elif new != repeat:
            errors["repeat_password"] = [t(lang, "account.password.mismatch")]
    return errors, current, new


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    user = require_user(request)
    lang = page_language(request, user)
    errors, current, new = _password_problems(await request.form(), user, lang)
    app = get_tessera(request)
    if not errors:
        try:
            change_own_password(app, login_guard(request), user, current, new, caller=ui_caller(request), lang=lang)
        except (WrongCurrentPassword, AccountLocked, TooManyAttempts) as exc:
            errors = {"current_password": [exc.message]}
        except PasswordRejected as exc:
            errors = {"new_password": [v.message(lang) for v in exc.violations]}
    if errors:
        return _page(request, user, password_errors=errors, status=422)
    sign_in(request, app.users.get(user.id) or user)  # this browser stays signed in; every other one is not
    flash(request, "success", t(lang, "account.password.changed"))
    return RedirectResponse("/account", status_code=303)


@router.post("/account/logout-everywhere")
def sign_out_everywhere(request: Request) -> Response:
    user = require_user(request)
    lang = page_language(request, user)
    logout_everywhere(get_tessera(request), user, caller=ui_caller(request))
    request.session.clear()
    flash(request, "info", t(lang, "account.everywhere.done"))
    return RedirectResponse("/login", status_code=303)
