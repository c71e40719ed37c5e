"""Notifications and message templates over REST (PL-16, PL-10).

* ``GET  /api/v1/notifications?unread=1&limit=50`` my notifications, newest first, and the unread count
* ``POST /api/v1/notifications/{id}/read``, ``POST /api/v1/notifications/read-all``
* ``GET  /api/v1/notifications/preferences``, ``PUT`` {"preferences": {kind: {channel: bool}}}
* ``GET  /api/v1/templates`` the deployed message templates (administrators)
* ``POST /api/v1/templates/{id}/preview`` {"record_id", "lang": "zh" | "en" | null (both)} (administrators)
* ``GET  /api/v1/deliveries?status=&channel=`` the delivery log; ``POST /api/v1/deliveries/{id}/retry`` (administrators)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request

from runtime.api.deps import context, current_user, json_object, record_id, tessera
from runtime.errors import BadRequest, Forbidden
from runtime.notify import inbox, prefs
from runtime.notify.channels import CHANNELS
from runtime.notify.preview import preview
from runtime.notify.tables import deliveries
from runtime.storage import platform_tables as pt

router = APIRouter(prefix="/api/v1", tags=["notifications"])
ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
PREVIEW_BODY = {
    "type": "object",
    "properties": {"record_id": ID, "lang": {"type": "string", "enum": ["zh", "en"]}},
}
STATUSES = ("queued", "sending", "sent", "failed", "skipped")


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _admin(request: Request) -> Any:
    user = current_user(request)
    if not user.is_admin:
        raise Forbidden("only administrators may do this")
    return user


def _limit(raw: str | None, default: int = 50) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise BadRequest("'limit' must be a number from 1 to 500")
    return int(raw)


@router.get("/notifications")
def my_notifications(request: Request) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    unread = request.query_params.get("unread") in ("1", "true", "yes")
    items = inbox.listing(app.db, user.id, unread_only=unread, limit=_limit(request.query_params.get("limit")))
    return {"items": items, "unread": inbox.unread_count(app.db, user.id)}


@router.post("/notifications/read-all")
def read_all(request: Request) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    return {"marked": inbox.mark_all_read(app.db, user.id, app.clock.now()), "unread": 0}


@router.post("/notifications/{notification_id}/read")
def read_one(request: Request, notification_id: str) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    item = inbox.mark_read(app.db, user.id, record_id(notification_id), app.clock.now())
    return {**item, "unread": inbox.unread_count(app.db, user.id)}


def preference_kinds(app: Any) -> list[str]:
    return [prefs.ALL_KINDS, *sorted(app.notifier.templates())]


@router.get("/notifications/preferences")
def my_preferences(request: Request) -> dict[str, Any]:
    user = current_user(request)
    app = tessera(request)
    with app.db.read() as conn:
        row = conn.execute(sa.select(pt.users).where(pt.users.c.id == user.id)).first()
        grid = prefs.effective(conn, row, preference_kinds(app))
    return {"channels": list(CHANNELS), "preferences": grid}


@router.put("/notifications/preferences", openapi_extra=_body({"type": "object"}))
async def save_preferences(request: Request) -> dict[str, Any]:
    body = await json_object(request)
    user = current_user(request)
    app = tessera(request)
    grid = body.get("preferences")
    kinds = set(preference_kinds(app))
    if not isinstance(grid, dict):
        raise BadRequest("'preferences' must be an object {kind: {channel: true | false}}")
    for kind, channels in grid.items():
        if kind not in kinds:
            raise BadRequest(f"preferences/{kind}: unknown notification kind (known: {', '.join(sorted(kinds))})")
        if not isinstance(channels, dict) or any(
            c not in CHANNELS or not isinstance(v, bool) for c, v in channels.items()
        ):
            raise BadRequest(f"preferences/{kind}: must map channels ({', '.join(CHANNELS)}) to true or false")
    with app.db.write() as conn:
        prefs.save(conn, user.id, grid, app.clock.now())
    return preferences_of(app, user.id)


def preferences_of(app: Any, user_id: int) -> dict[str, Any]:
    with app.db.read() as conn:
        row = conn.execute(sa.select(pt.users).where(pt.users.c.id == user_id)).first()
        return {"channels": list(CHANNELS), "preferences": prefs.effective(conn, row, preference_kinds(app))}


@router.get("/templates")
def list_templates(request: Request) -> dict[str, Any]:
    _admin(request)
    found = tessera(request).notifier.templates()
    items = [
        {"id": t["id"], "label": t.get("label"), "entity": t.get("entity"), "channels": sorted(t["channels"])}
        for t in sorted(found.values(), key=lambda t: t["id"])
    ]
    return {"items": items}


@router.post("/templates/{template_id}/preview", openapi_extra=_body(PREVIEW_BODY))
async def preview_template(request: Request, template_id: str) -> dict[str, Any]:
    body = await json_object(request)
    user = _admin(request)
    rid = body.get("record_id")
    if rid is not None and (not isinstance(rid, int) or isinstance(rid, bool) or not 0 < rid <= 2**63 - 1):
        raise BadRequest("'record_id' must be a record id")
    lang = body.get("lang")
    if lang not in (None, "zh", "en"):
        raise BadRequest("'lang' must be 'zh' or 'en' (or absent for both)")
    langs = [lang] if lang else ["zh", "en"]
    return preview(tessera(request), template_id[:100], rid, langs, context(request, user))


def delivery_rows(app: Any, status: str | None, channel: str | None, limit: int = 200) -> list[dict[str, Any]]:
    t = deliveries
    query = sa.select(t, pt.users.c.display_name).select_from(t.outerjoin(pt.users, pt.users.c.id == t.c.user_id))
    if status:
        query = query.where(t.c.status == status)
    if channel:
        query = query.where(t.c.channel == channel)
    with app.db.read() as conn:
        rows = conn.execute(query.order_by(t.c.id.desc()).limit(limit)).mappings().all()
    out = []
    for r in rows:
        item = {k: r[k] for k in ("id", "key", "user_id", "channel", "kind", "status", "attempts", "last_error")}
        item.update(
            target=r["target"],
            provider_id=r["provider_id"],
            user=r["display_name"],
            created_at=r["created_at"].isoformat(timespec="seconds"),
            sent_at=r["sent_at"].isoformat(timespec="seconds") if r["sent_at"] else None,
        )
        out.append(item)
    return out


@router.get("/deliveries")
def list_deliveries(request: Request) -> dict[str, Any]:
    _admin(request)
    status = request.query_params.get("status") or None
    channel = request.query_params.get("channel") or None
    if status is not None and status not in STATUSES:
        raise BadRequest(f"'status' must be one of {', '.join(STATUSES)}")
    if channel is not None and channel not in CHANNELS:
        raise BadRequest(f"'channel' must be one of {', '.join(CHANNELS)}")
    limit = _limit(request.query_params.get("limit"), 200)
    return {"items": delivery_rows(tessera(request), status, channel, limit)}


@router.post("/deliveries/{delivery_id}/retry")
def retry_delivery(request: Request, delivery_id: str) -> dict[str, Any]:
    _admin(request)
    queued = tessera(request).notifier.retry(record_id(delivery_id))
    if not queued:
        raise BadRequest("only a failed or skipped e-mail, SMS or webhook delivery can be retried")
    return {"id": int(delivery_id), "status": "queued"}
