"""Template preview with a sample record: what each channel would say, in Chinese and English.

The caller must be allowed to read the sample record (checked with their own context); the merge
fields are then read as a sending job would (system context), so the preview is the real message.
The caller stands in as the recipient.
"""

from __future__ import annotations

from typing import Any

from runtime.errors import BadRequest
from runtime.notify.messages import Draft, RecordLoader, compose, recipient_of, user_row
from runtime.notify.templates.render import RenderError
from runtime.records.context import Context
from runtime.records.service import joined_transaction

PREVIEW_CHANNELS = ("in_app", "email", "sms", "webhook")


def preview(app: Any, template_id: str, record_id: int | None, langs: list[str], ctx: Context) -> dict[str, Any]:
    """{"template", "entity", "record_id", "languages": {lang: {channel: message | {"error"}}}}."""
    tpl = app.notifier.template(template_id)
    entity = tpl.get("entity")
    if entity is not None:
        if record_id is None:
            raise BadRequest(f"the template '{template_id}' reads a '{entity}' record: give 'record_id'")
        app.records.get(entity, record_id, ctx)  # NotFound/Forbidden for a record the caller may not read
    channels = [c for c in PREVIEW_CHANNELS if c in tpl["channels"]] or ["in_app"]
    out: dict[str, Any] = {}
    with app.db.read() as conn, joined_transaction(conn):
        loader = RecordLoader(app, conn)
        me = user_row(conn, ctx.user_id) if ctx.user_id else None
        recipient = (
            recipient_of(me)
            if me
            else {"id": 0, "username": "", "display_name": "", "email": "", "phone": "", "language": "zh"}
        )
        link = f"/r/{entity}/{record_id}" if entity is not None else None
        for lang in langs:

            def variables(lang: str = lang) -> dict[str, Any]:
                found: dict[str, Any] = {
                    "recipient": recipient,
                    "link": link or "",
                    "site_name": app.params.get("site.name"),
                    "now": app.clock.now(),
                    "lang": lang,
                    **{name: f"[{name}]" for name in tpl.get("variables") or []},
                }
                if entity is not None:
                    found["record"] = loader.record(entity, record_id)
                return found

            rendered: dict[str, Any] = {}
            for channel in channels:
                try:
                    rendered[channel] = compose(Draft(tpl, None, None, link, {}), channel, lang, variables)
                except RenderError as exc:
                    rendered[channel] = {"error": str(exc)}
            out[lang] = rendered
    return {"template": template_id, "entity": entity, "record_id": record_id, "languages": out}
