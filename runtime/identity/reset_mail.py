"""The e-mailed password reset, end to end (PL-21): request a link, mail it, set the new password.

``runtime.identity.reset`` keeps the one-time tokens; this module is the flow around them, shared by
the API (``/api/v1/auth/password-reset``) and the "forgot password" pages so both answer, mail, throttle
and log exactly alike:

* :func:`request_reset` looks the account up by username or e-mail, issues a token (at most
  ``ResetTokens.max_open`` per account per validity period: the throttle), writes the operation log
  and returns the :class:`ResetMail` to send, or None. Callers answer the same neutral message
  either way and send the mail *after* answering (:func:`send_quietly` in a background task), so
  neither the answer nor its timing reveals whether the account exists.
* :func:`complete_reset` applies the password rules, uses the token up, sets the password (which
  clears any lockout and ends every session of the account) and logs the event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from runtime.identity.events import Caller, log_identity_event
from runtime.identity.policy import check_password
from runtime.identity.reset import VALIDITY, ResetTokenInvalid, ResetTokens
from runtime.identity.users import User
from runtime.mail import Mailer, MailError

if TYPE_CHECKING:
    from runtime.services import Tessera

log = logging.getLogger("tessera.auth")
RESET_PATH = "/reset-password"


@dataclass(frozen=True)
class ResetMail:
    to: str
    subject: str
    text: str
    html: str


def reset_mail(lang: str, user: User, link: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the mail, in the account's language."""
    minutes = int(VALIDITY.total_seconds() // 60)
    name, account, href = escape(user.display_name), escape(user.username), escape(link)
    if lang == "en":
        subject = "Reset your Tessera password"
        text = (
            f"Hello {user.display_name},\n\n"
            f"Someone (hopefully you) asked to reset the password of the account '{user.username}'.\n"
            f"Open this link within {minutes} minutes to choose a new password (it works once):\n\n{link}\n\n"
            "If you did not ask for this, ignore this message: your password stays unchanged.\n"
        )
        html = (
            f"<p>Hello {name},</p><p>Open this link within {minutes} minutes to choose a new "
            f'password for <b>{account}</b> (it works once):</p><p><a href="{href}">'
            f"{href}</a></p><p>If you did not ask for this, ignore this message.</p>"
        )
    else:
        subject = "重置 Tessera 密码"
        text = (
            f"{user.display_name}，您好：\n\n"
            f"我们收到了重置账户“{user.username}”密码的请求。\n"
            f"请在 {minutes} 分钟内打开以下链接设置新密码（链接只能使用一次）：\n\n{link}\n\n"
            "如果这不是您本人的操作，请忽略此邮件，您的密码不会改变。\n"
        )
        html = (
            f"<p>{name}，您好：</p><p>请在 {minutes} 分钟内打开以下链接为账户"
            f"<b>{account}</b>设置新密码（链接只能使用一次）：</p>"
            f'<p><a href="{href}">{href}</a></p><p>如果这不是您本人的操作，请忽略此邮件。</p>'
        )
    return subject, text, html


def request_reset(app: Tessera, resets: ResetTokens, name: str, *, base_url: str, caller: Caller) -> ResetMail | None:
    """Issue a link for the account called ``name`` (username, or its e-mail) if it exists and has an
    e-mail address and is not over the limit; returns the mail to send after answering, else None."""
    user = app.users.by_login(name)
    if user is None or not user.email:
        log_identity_event(app, "password_reset", caller, None, username=name, event="requested", known=False)
        return None
    token = resets.issue(user.id)
    mail = None
    if token is not None:
        base = (app.settings.mail_base_url or base_url).rstrip("/")
        subject, text, html = reset_mail(user.language, user, f"{base}{RESET_PATH}?token={token}")
        mail = ResetMail(user.email, subject, text, html)
    log_identity_event(app, "password_reset", caller, user, event="requested", mailed=token is not None)
    return mail


def send_quietly(sender: Mailer, mail: ResetMail) -> None:
    """Send, logging (not raising) a failure: the person already got the neutral answer."""
    try:
        sender.send(mail.to, mail.subject, mail.text, html=mail.html)
    except MailError:
        log.exception("the password reset mail to %s could not be sent", mail.to)


def reset_account(app: Tessera, resets: ResetTokens, token: str, invalid: str) -> User:
    """The active account a still-usable link belongs to, or raise ResetTokenInvalid(invalid)."""
    user = app.users.get(resets.peek(token, invalid))
    if user is None:
        raise ResetTokenInvalid(invalid)
    return user


def complete_reset(
    app: Tessera,
    resets: ResetTokens,
    token: str,
    password: str,
    *,
    caller: Caller,
    invalid: str,
    lang_for: Callable[[User], str],
) -> User:
    """Set the password with the link: raises ResetTokenInvalid or PasswordRejected (the link stays
    usable after a rejected password); on success every session of the account ends."""
    user = reset_account(app, resets, token, invalid)
    check_password(password, user.username, lang=lang_for(user))
    resets.consume(token, invalid)
    app.users.set_password(user.id, password, enforce_policy=False, now=app.clock.now())
    log_identity_event(app, "password_reset", caller, user, event="completed")
    return user
