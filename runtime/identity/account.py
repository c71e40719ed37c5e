"""A signed-in person's own account: change my password, sign me out everywhere.

Shared by ``/api/v1/auth/password`` and ``/api/v1/auth/logout-everywhere`` and the account pages, so
the checks (current password under the login throttle, password rules), the session ending and the
operation-log entries are the same on every screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.errors import Forbidden
from runtime.identity.events import Caller, log_identity_event
from runtime.identity.policy import check_password
from runtime.identity.throttle import LoginGuard, WrongCredentials
from runtime.identity.users import User

if TYPE_CHECKING:
    from runtime.services import Tessera

MAX_PASSWORD = 256


class WrongCurrentPassword(Forbidden):
    """403, not 401: the session is fine, only the password typed to confirm the change is wrong."""

    code = "wrong_password"


def wrong_current_password(lang: str) -> WrongCurrentPassword:
    return WrongCurrentPassword("当前密码不正确" if lang == "zh" else "the current password is not correct")


def confirm_current_password(guard: LoginGuard, user: User, current: str, *, caller: Caller, lang: str) -> None:
    """The person's current password, under the login lockout and throttling (a stolen session must not
    become an unlimited guessing oracle). Raises WrongCurrentPassword, AccountLocked or TooManyAttempts."""
    try:
        guard.verify_current_password(
            user, current[:MAX_PASSWORD], ip=caller.ip, request_id=caller.request_id, lang=lang
        )
    except WrongCredentials as exc:
        raise wrong_current_password(lang) from exc


def change_own_password(
    app: Tessera, guard: LoginGuard, user: User, current: str, new: str, *, caller: Caller, lang: str
) -> int:
    """Check the current password, then the rules for the new one (PasswordRejected), set it and log it.
    Every session of the account ends (the caller signs its own session in again); returns the new epoch."""
    confirm_current_password(guard, user, current, caller=caller, lang=lang)
    check_password(new, user.username, lang=lang)
    epoch = app.users.set_password(user.id, new, enforce_policy=False, now=app.clock.now())
    log_identity_event(app, "password_reset", caller, user, event="changed_by_user")
    return epoch


def logout_everywhere(app: Tessera, user: User, *, caller: Caller) -> int:
    """End every browser session of the account, the caller's included; API tokens stay valid."""
    epoch = app.users.bump_session_epoch(user.id)
    log_identity_event(app, "logout", caller, user, everywhere=True, session_epoch=epoch)
    return epoch
