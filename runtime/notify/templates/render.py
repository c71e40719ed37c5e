"""Rendering message templates in a sandbox: merge fields from the record, its related records and the recipient.

Pack authors write the templates, but the values come from records that anyone may have typed, and a
template must never reach Python internals: ``ImmutableSandboxedEnvironment`` refuses ``__class__``
and friends and any call that changes a value; ``StrictUndefined`` turns a missing merge field into an
error instead of an empty gap in a message already sent to a patient. E-mail HTML is rendered by a
second environment with autoescape on, so a record value cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import StrictUndefined, TemplateError, pass_context
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Context as JinjaContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

RECIPIENT_FIELDS = ("id", "username", "display_name", "email", "phone", "language")
USER_FIELDS = ("id", "username", "display_name", "email", "phone")
SYSTEM_FIELDS = ("id", "version", "created_at", "updated_at", "created_by", "updated_by")
BASE_NAMES = ("record", "recipient", "link", "site_name", "now", "lang")
JINJA_NAMES = ("loop", "range", "dict", "lipsum", "cycler", "joiner", "namespace", "super", "varargs", "kwargs")


class RenderError(Exception):
    """A template that cannot be rendered for this record/recipient; the message says which merge field."""


def _as_date(value: Any) -> date | datetime | None:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError:
            return None
    return None


@pass_context
def format_date(ctx: JinjaContext, value: Any) -> str:
    """``{{ record.visit_date | date }}``: 2026年11月23日 in Chinese, 23 Nov 2026 in English."""
    when = _as_date(value)
    if when is None:
        return "" if value in (None, "") else str(value)
    if ctx.get("lang") == "en":
        return f"{when.day} {when.strftime('%b')} {when.year}"
    return f"{when.year}年{when.month}月{when.day}日"


@pass_context
def format_datetime(ctx: JinjaContext, value: Any) -> str:
    """``{{ record.opens_at | datetime }}``: the date as above plus hours and minutes."""
    when = _as_date(value)
    if not isinstance(when, datetime):
        return format_date(ctx, value)
    return f"{format_date(ctx, when)} {when.strftime('%H:%M')}"


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=False)
    env.filters["date"] = format_date
    env.filters["datetime"] = format_datetime
    return env


TEXT_ENV = _environment(autoescape=False)
HTML_ENV = _environment(autoescape=True)


class EmptyRecord(Mapping):
    """An empty reference (no hospital chosen): every merge field below it renders as an empty text."""

    def __getitem__(self, name: str) -> Any:
        if name.startswith("_"):
            raise KeyError(name)
        return self

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __str__(self) -> str:
        return ""

    def __html__(self) -> str:
        return ""


class RecordView(Mapping):
    """A record for templates: ``record.hospital`` loads the related record on first use (and only then)."""

    def __init__(self, entity: Any, values: Mapping[str, Any], load: Callable[[str, int], Any], users: Callable):
        self._entity = entity
        self._values = values
        self._load = load
        self._users = users
        self._fields = {f.name: f for f in entity.fields}

    def __getitem__(self, name: str) -> Any:
        field = self._fields.get(name)
        if field is None and name not in SYSTEM_FIELDS:
            raise KeyError(name)
        value = self._values.get(name)
        if field is not None and field.type == "reference":
            return EmptyRecord() if value in (None, "") else self._load(field.opt("entity"), int(value))
        if field is not None and field.type == "user":
            return EmptyRecord() if value in (None, "") else self._users(int(value))
        return "" if value is None else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __str__(self) -> str:
        title = self._entity.raw.get("title_field")
        return str(self._values.get(title) or self._values.get("id") or "")


def text_of(text: str | Mapping[str, str], lang: str) -> str:
    """The template source in the recipient's language (zh-CN → zh), else the other one."""
    if isinstance(text, str):
        return text
    return text.get("en" if lang == "en" else "zh") or text.get("zh") or text.get("en") or ""


def render(source: str, variables: Mapping[str, Any], *, html: bool = False) -> str:
    """Render one template text; any problem becomes a RenderError that names it plainly."""
    env = HTML_ENV if html else TEXT_ENV
    try:
        return env.from_string(source).render(**variables)
    except SecurityError as exc:
        raise RenderError(f"not allowed in a message template: {exc}") from exc
    except UndefinedError as exc:
        raise RenderError(f"unknown merge field: {exc.message}") from exc
    except TemplateSyntaxError as exc:
        raise RenderError(f"template syntax error on line {exc.lineno}: {exc.message}") from exc
    except TemplateError as exc:
        raise RenderError(f"the template could not be rendered: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise RenderError(f"the template could not be rendered: {exc}") from exc


def html_body(source: str, variables: Mapping[str, Any]) -> str:
    """The e-mail's HTML part: the same text, merge fields escaped, line breaks kept."""
    inner = render(source, variables, html=True)
    return f'<div style="white-space:pre-wrap;font-family:sans-serif">{inner}</div>'
