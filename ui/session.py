"""Who is looking at a page: sign-in enforcement, the records context, flash messages, safe redirects.

Pages never accept an anonymous visitor: :func:`require_user` raises :class:`LoginRequired`,
which the UI turns into a redirect to ``/login?next=...`` (or an ``HX-Redirect`` for htmx
requests, because a redirected fragment would otherwise land inside the page).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from runtime.api import deps
from runtime.identity.users import User
from runtime.records import Context

FLASH_KEY = "flash"


class LoginRequired(Exception):
    def __init__(self, next_url: str):
        self.next_url = next_url
        super().__init__(next_url)


def current_path(request: Request) -> str:
    """The path plus query of this request: where to come back to after signing in."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def require_user(request: Request) -> User:
    user = deps.optional_user(request)
    if user is None:
        raise LoginRequired(current_path(request))
    return user


def login_url(next_url: str) -> str:
    return "/login?" + urlencode({"next": next_url}) if next_url and next_url != "/" else "/login"


def ui_context(request: Request, user: User) -> Context:
    """The records-service context for a UI request: channel 'ui' so audit and rules know the source."""
    return deps.context(request, user, channel="ui")


def page_language(request: Request, user: User | None) -> str:
    return deps.language(request, user)


def safe_next(url: str | None, default: str = "/") -> str:
    """Only same-site paths: '//evil.example' and 'https://...' would turn login into an open redirect."""
    if (
        not url
        or not url.startswith("/")
        or url.startswith("//")
        or "\\" in url
        or "\n" in url
        or "\r" in url
    ):
        return default
    return url


def flash(request: Request, kind: str, message: str) -> None:
    """A one-time message shown as a toast on the next page (after a redirect)."""
    messages: list[dict[str, Any]] = list(request.session.get(FLASH_KEY, []))
    messages.append({"kind": kind, "message": message})
    request.session[FLASH_KEY] = messages[-5:]


def pop_flashes(request: Request) -> list[dict[str, Any]]:
    messages = request.session.pop(FLASH_KEY, None) if "session" in request.scope else None
    return messages if isinstance(messages, list) else []


def is_htmx(request: Request) -> bool:
    """A fragment request from htmx (history restores need the full page, so they do not count)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
