"""Shared parts of the administrator's log pages: the admin check, filter parsing with inline errors,
local dates and times, and keyset-paging links.

Filters come from the query string as typed by a person, so every problem becomes a message next
to its input (never a 400 page); dates are the hospital's local calendar days, turned into the
naive-UTC bounds the runtime queries expect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import Request

from runtime.api.deps import tessera as get_tessera
from runtime.clock import local_zone
from runtime.errors import Forbidden
from runtime.identity.users import User
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from ui.formatting import local_datetime_text
from ui.i18n import MESSAGES, t
from ui.session import require_user, ui_context

PAGE_SIZE = 30
MAX_ID = 2**63 - 1
MAX_USER_OPTIONS = 500


@dataclass
class AdminPage:
    """Who is looking (an administrator) and the services to look with."""

    user: User
    app: Tessera
    ctx: Context

    @property
    def lang(self) -> str:
        return self.ctx.lang

    def t(self, message: str, /, **params: Any) -> str:
        return t(self.ctx.lang, message, **params)


def require_admin(request: Request, *, admin_right: bool = False) -> AdminPage:
    """Anonymous visitors go to the login page; signed-in non-administrators get the 403 page. With
    ``admin_right`` a role holding the 'admin' right also passes (a pack's IT administrator): the check the API
    routes of such pages make, so the page and the API let the same people in."""
    user = require_user(request)
    ctx = ui_context(request, user)
    app = get_tessera(request)
    if not (user.is_admin or (admin_right and app.permissions.has_right(ctx, "admin"))):
        raise Forbidden(t(ctx.lang, "logs.forbidden"))
    return AdminPage(user, app, ctx)


@dataclass
class QueryForm:
    """The filter inputs of a log page: raw values to show again, parsed values, and per-input errors."""

    request: Request
    lang: str
    raw: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def text(self, name: str, max_len: int = 200) -> str | None:
        value = (self.request.query_params.get(name) or "").strip()
        self.raw[name] = value
        if "\x00" in value:
            self.errors[name] = t(self.lang, "logs.error.text")
            return None
        return value[:max_len] or None

    def integer(self, name: str) -> int | None:
        value = self.text(name, 40)
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_ID:
            self.errors[name] = t(self.lang, "logs.error.int")
            return None
        return int(value)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(name, 40)
        if value is not None and value not in allowed:
            self.errors[name] = t(self.lang, "logs.error.choice")
            return None
        return value

    def day(self, name: str, *, end: bool = False) -> datetime | None:
        """A local calendar day as a naive-UTC bound: its start, or (``end``) the start of the next day."""
        value = self.text(name, 40)
        if value is None:
            return None
        try:
            day = date.fromisoformat(value)
        except ValueError:
            self.errors[name] = t(self.lang, "logs.error.date")
            return None
        start = datetime(day.year, day.month, day.day) + (timedelta(days=1) if end else timedelta())
        return start.replace(tzinfo=local_zone()).astimezone(UTC).replace(tzinfo=None)

    def date_range(self) -> tuple[datetime | None, datetime | None]:
        since, until = self.day("since"), self.day("until", end=True)
        if since is not None and until is not None and until <= since:
            self.errors["until"] = t(self.lang, "logs.error.range")
            return None, None
        return since, until

    def user_id(self, name: str, app: Tessera) -> int | None:
        """A username typed (or picked) in the filter; unknown names are an inline error."""
        value = self.text(name, 64)
        if value is None:
            return None
        user = app.users.by_username(value)
        if user is None:
            self.errors[name] = t(self.lang, "logs.error.user", name=value)
            return None
        return user.id

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def active(self) -> bool:
        return any(self.raw.values())


def before_id(request: Request) -> int | None:
    raw = request.query_params.get("before_id") or ""
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_ID else None


def page_url(base: str, raw: dict[str, str], **extra: Any) -> str:
    """This page with the same filters, plus paging parameters."""
    params = {k: v for k, v in raw.items() if v}
    params.update({k: v for k, v in extra.items() if v is not None})
    return base + ("?" + urlencode(params) if params else "")


def local_time(value: datetime | str | None) -> str:
    """A stored naive-UTC instant in the hospital's local time, to the second."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else value
    return local_datetime_text(text, seconds=True)


@dataclass(frozen=True)
class UserOption:
    username: str
    label: str


def user_options(app: Tessera) -> list[UserOption]:
    """Usernames for the filters' suggestion list (a hospital CRM has few enough users)."""
    q = sa.select(pt.users.c.username, pt.users.c.display_name).order_by(pt.users.c.username).limit(MAX_USER_OPTIONS)
    with app.db.read() as conn:
        return [UserOption(r.username, r.display_name or r.username) for r in conn.execute(q)]


def actor_text(actor: dict[str, Any] | None, fallback_id: int | None, lang: str) -> str:
    """'张三 (zhangsan)' for a known user, '#7' for a deleted one, '系统' for the platform itself."""
    if actor:
        name, username = actor.get("display_name"), actor.get("username")
        return f"{name} ({username})" if name and name != username else str(username)
    if fallback_id is not None:
        return f"#{fallback_id}"
    return t(lang, "logs.system_actor")


def coded_label(prefix: str, code: str, lang: str) -> str:
    """The label of a code (channel, kind); a code added elsewhere without a label shows as itself."""
    return t(lang, prefix + code) if prefix + code in MESSAGES else code
