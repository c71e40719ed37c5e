"""CSRF protection for browser posts: a random token kept in the signed session cookie.

Every state-changing UI request must echo the token, either as the hidden ``csrf_token`` form
input (plain form posts) or as the ``X-CSRF-Token`` header that ``<body hx-headers>`` adds to
every htmx request. A forged cross-site post cannot read the token, so it is refused. The
session cookie alone is not enough protection because browsers attach it to cross-site posts
from top-level navigations.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

SESSION_KEY = "csrf_token"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM_FIELDS = 20_000


class CsrfRejected(Exception):
    """The request carried no token or a wrong one; the UI answers with a friendly 403 page."""


def csrf_token(request: Request) -> str:
    """The session's token, created on first use so even the login page has one."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def rotate_csrf_token(request: Request) -> str:
    """A fresh token after sign-in, so a token planted before login is useless afterwards."""
    request.session[SESSION_KEY] = secrets.token_urlsafe(32)
    return request.session[SESSION_KEY]


async def verify_csrf(request: Request) -> None:
    """FastAPI dependency for UI routers: refuse unsafe methods without the session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(SESSION_KEY)
    supplied = request.headers.get(HEADER)
    if not supplied:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            # parsed once here and cached for the route; the role matrix of a large pack posts thousands
            # of fields, more than Starlette's default of 1,000
            form = await request.form(max_fields=MAX_FORM_FIELDS)
            value = form.get(FORM_FIELD)
            supplied = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not supplied or not hmac.compare_digest(expected, supplied):
        raise CsrfRejected()
