"""Turning a notify call into the rendered texts of each channel, for one recipient in their language."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.errors import BadRequest
from runtime.notify.templates.render import (
    USER_FIELDS,
    RecordView,
    RenderError,
    html_body,
    render,
    text_of,
)
from runtime.records.context import SYSTEM
from runtime.storage import platform_tables as pt


@dataclass
class Draft:
    """What the caller asked for: a template with merge context, or a plain title/body."""

    template: dict[str, Any] | None
    title: str | None
    body: str | None
    link: str | None
    context: Mapping[str, Any]


def user_row(conn: Connection, user_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(pt.users).where(pt.users.c.id == user_id)).mappings().first()
    return dict(row) if row else None


def recipient_of(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "username": row["username"],
        "display_name": row["display_name"],
        "email": row.get("email") or "",
        "phone": row.get("phone") or "",
        "language": row.get("language") or "zh",
    }


class RecordLoader:
    """Loads records (and their related records) for templates through the records service, once each."""

    def __init__(self, app: Any, conn: Connection):
        self.app = app
        self.conn = conn
        self._cache: dict[tuple[str, int], Any] = {}

    def record(self, entity_id: str, record_id: int) -> RecordView:
        key = (entity_id, record_id)
        if key not in self._cache:
            try:
                values = self.app.records.get(entity_id, record_id, SYSTEM)
            except Exception as exc:  # noqa: BLE001 - a deleted related record must not break the message
                raise RenderError(f"the record {entity_id} #{record_id} could not be read: {exc}") from exc
            self._cache[key] = RecordView(self.app.registry.entity(entity_id), values, self.record, self.user)
        return self._cache[key]

    def user(self, user_id: int) -> dict[str, Any]:
        row = user_row(self.conn, user_id) or {"id": user_id, "username": "", "display_name": ""}
        return {k: row.get(k) or "" for k in USER_FIELDS}


def compose(
    draft: Draft,
    channel: str,
    lang: str,
    variables_for: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """The rendered message of one channel: {subject, text, html, link}; RenderError if it cannot be."""
    tpl = draft.template
    spec = (tpl or {}).get("channels", {})
    variables = variables_for() if tpl is not None else {}

    def r(text: Any, *, html: bool = False) -> str:
        source = text_of(text, lang)
        return html_body(source, variables) if html else render(source, variables)

    def title_body() -> tuple[str, str]:
        if "in_app" in spec:
            return r(spec["in_app"]["title"]), r(spec["in_app"]["body"]) if spec["in_app"].get("body") else ""
        if "email" in spec:
            return r(spec["email"]["subject"]), r(spec["email"]["body"])
        if draft.title is None:
            raise BadRequest(f"the template '{tpl and tpl.get('id')}' has no in-app or e-mail text")
        return draft.title, draft.body or ""

    if tpl is None:
        title, body = draft.title or "", draft.body or ""
    else:
        title, body = title_body() if channel == "in_app" or channel not in spec else ("", "")
    if channel == "in_app":
        return {"subject": title[:300], "text": body, "link": draft.link}
    if channel == "email":
        if tpl is not None and "email" in spec:
            subject = r(spec["email"]["subject"]).replace("\n", " ").strip()
            text = r(spec["email"]["body"])
            html = r(spec["email"]["body"], html=True)
        else:
            subject, text = title.replace("\n", " ").strip(), body
            html = None
        if draft.link:
            text += f"\n\n{draft.link}"
        return {"subject": subject, "text": text, "html": html, "link": draft.link}
    if channel in ("sms", "webhook"):
        if tpl is not None and channel in spec:
            text = r(spec[channel])
        elif channel == "webhook":
            text = body or title  # the robot shows the title as its heading
        else:
            text = "\n".join(p for p in (title, body) if p)
        return {"subject": title, "text": text, "link": draft.link}
    raise BadRequest(f"unknown notification channel '{channel}'")
