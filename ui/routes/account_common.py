"""Helpers shared by the account pages: who is calling (for the operation log), tabs, password rules."""

from __future__ import annotations

from fastapi import Request

from runtime.api.deps import client_ip
from runtime.identity.events import Caller
from runtime.identity.policy import MIN_CLASSES, MIN_LENGTH
from runtime.identity.reset import VALIDITY
from ui.i18n import t
from ui.templating import Crumb

RESET_MINUTES = int(VALIDITY.total_seconds() // 60)


def ui_caller(request: Request) -> Caller:
    return Caller(client_ip(request), getattr(request.state, "request_id", None), channel="ui")


def password_rules(lang: str) -> list[str]:
    """The password policy in words, listed under every "new password" field."""
    return [
        t(lang, "account.password.rule_length", min=MIN_LENGTH),
        t(lang, "account.password.rule_classes", classes=MIN_CLASSES),
        t(lang, "account.password.rule_username"),
        t(lang, "account.password.rule_common"),
    ]


def account_crumbs(lang: str, tail: str) -> list[Crumb]:
    return [Crumb(t(lang, "nav.home"), "/"), Crumb(t(lang, "account.title"), "/account"), Crumb(tail)]
