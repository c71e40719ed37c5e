"""One-click opt-out for contacts (patients are not users: no preferences page, no sign-in).

A campaign or reminder sent to a contact whose spec names an ``opt_out`` field carries the template
variable ``unsubscribe_url``: ``/unsubscribe/<token>``, where the token is the signed (entity, record id,
field) of that boolean field. Opening it shows a confirmation page; confirming sets the field to true
through the records service (audited), after which the notifier skips that person
(runtime/notify/contacts.py). The signature (the application's secret key) makes a token impossible to
forge or to point at another record or field; nothing else is needed to use it, as with any mail link.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature, URLSafeSerializer

from runtime.errors import BadRequest, NotFound
from runtime.records.context import Context

SALT = "tessera.unsubscribe.v1"
CTX = Context(channel="system", lang="zh")
"""The opt-out is written as the platform on the person's behalf (audited, channel 'system')."""
router = APIRouter(include_in_schema=False)


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def make_token(secret: str, entity: str, record_id: int, field: str) -> str:
    return _serializer(secret).dumps([entity, int(record_id), field])


def read_token(secret: str, token: str) -> tuple[str, int, str]:
    """The (entity, record id, field) a token names; BadRequest for anything not signed by us."""
    try:
        value = _serializer(secret).loads(token)
    except BadSignature:
        raise BadRequest("this unsubscribe link is not valid (changed or incomplete)") from None
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[1], int)):
        raise BadRequest("this unsubscribe link is not valid")
    return str(value[0]), value[1], str(value[2])


def url_for(app: Any, opt_out_ref: str) -> str:
    """``unsubscribe_url`` of a contact whose opt-out lives at ``entity:id:field``; absolute when the site
    address is configured (TESSERA_MAIL_BASE_URL), which SMS and mail need."""
    entity, record_id, field = opt_out_ref.split(":", 2)
    path = f"/unsubscribe/{make_token(app.settings.secret_key, entity, int(record_id), field)}"
    base = (app.settings.mail_base_url or "").rstrip("/")
    return base + path


def opt_out(app: Any, token: str) -> dict[str, Any]:
    """Set the opt-out field the token names to true (idempotent); the record as written."""
    entity_id, record_id, field = read_token(app.settings.secret_key, token)
    entity = app.registry.entities.get(entity_id)
    target = entity.field(field) if entity is not None else None
    if target is None or target.type != "boolean":
        raise NotFound("the record of this unsubscribe link no longer exists")
    record = app.records.get(entity_id, record_id, CTX)
    if record.get(field) is True:
        return record
    return app.records.update(entity_id, record_id, {field: True}, CTX, expected_version=None)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title></head>"
        "<body style='font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem'>"
        f"<h1 style='font-size:1.4rem'>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _tessera(request: Request) -> Any:
    return request.app.state.tessera


@router.get("/unsubscribe/{token}")
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    """The confirmation page (a GET never changes anything: mail scanners open links)."""
    try:
        read_token(_tessera(request).settings.secret_key, token)
    except BadRequest as exc:
        return _page("链接无效 / Invalid link", f"<p>{html.escape(exc.message)}</p>", 400)
    form = (
        "<p>确认后，我们将不再向您发送活动、提醒等消息。</p>"
        "<p>After confirming you will no longer receive campaign messages and reminders from us.</p>"
        f"<form method='post' action='/unsubscribe/{html.escape(token)}'>"
        "<button type='submit' id='confirm-unsubscribe'>确认退订 / Unsubscribe</button></form>"
    )
    return _page("退订消息 / Unsubscribe", form)


@router.post("/unsubscribe/{token}")
def unsubscribe_confirm(request: Request, token: str) -> HTMLResponse:
    try:
        opt_out(_tessera(request), token)
    except BadRequest as exc:
        return _page("链接无效 / Invalid link", f"<p>{html.escape(exc.message)}</p>", 400)
    except NotFound as exc:
        return _page("链接无效 / Invalid link", f"<p>{html.escape(exc.message)}</p>", 404)
    return _page(
        "已退订 / Unsubscribed",
        "<p id='unsubscribed'>您已成功退订，今后不会再收到此类消息。</p><p>You have been unsubscribed.</p>",
    )
