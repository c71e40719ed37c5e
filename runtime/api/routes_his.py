"""HIS inbound over HTTP (PC-17, PL-17) and the HIS message log for administrators.

POST /api/v1/his/hl7    one HL7 v2 ADT message (text) -> the HL7 ACK: 200 AA, 422 AE, 400 AR
POST /api/v1/his/fhir   a FHIR R4 Patient, Encounter or batch/transaction Bundle -> OperationOutcome / batch-response
GET  /api/v1/his/messages           the message log (administrators): ?outcome=&type=&from=&to=&patient=&before=&limit=
GET  /api/v1/his/messages/{id}      one message with its raw text and reply (administrators)

Messages are sent with an API token whose user (or role-scoped token) has the 'his' right, never with a
browser session: the HIS is a system, and a session's CSRF rules do not fit a message stream.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from runtime.api.deps import MAX_BODY, context, current_user, json_body, record_id, tessera, token_auth
from runtime.errors import BadRequest, Forbidden, NotFound
from runtime.his.fhir import handle_fhir
from runtime.his.hl7v2 import handle_hl7
from runtime.his.service import HisService
from runtime.his.tables import OUTCOMES, his_messages

router = APIRouter(prefix="/api/v1/his", tags=["his"])
HL7_STATUS = {"AA": 200, "AE": 422, "AR": 400}
HL7_MEDIA = "x-application/hl7-v2+er7; charset=utf-8"


def _his_service(request: Request) -> HisService:
    user = current_user(request)
    if token_auth(request) is None:
        raise Forbidden("HIS messages are sent with an API token (Authorization: Bearer tsr_...), not a session")
    ctx = context(request, user, channel="his")
    if not tessera(request).permissions.has_right(ctx, "his"):
        raise Forbidden("this API token's user has no 'his' right (give one of its roles the right 'his')")
    return HisService(tessera(request), user_id=user.id)


@router.post(
    "/hl7",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}},
    },
)
async def post_hl7(request: Request) -> Response:
    service = _his_service(request)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BadRequest("the request body is larger than 5 MB")
    outcome = await run_in_threadpool(handle_hl7, service, body, "http")
    return Response(outcome.reply, status_code=HL7_STATUS.get(outcome.code, 422), media_type=HL7_MEDIA)


@router.post(
    "/fhir",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/fhir+json": {"schema": {"type": "object"}}}},
    },
)
async def post_fhir(request: Request) -> JSONResponse:
    service = _his_service(request)
    body = await json_body(request)
    status, answer = await run_in_threadpool(handle_fhir, service, body)
    return JSONResponse(answer, status_code=status, media_type="application/fhir+json")


# the message log ----------------------------------------------------------------------------------


def _admin(request: Request) -> None:
    user = current_user(request)
    ctx = context(request, user)
    if not (ctx.is_admin or tessera(request).permissions.has_right(ctx, "admin")):
        raise Forbidden("the HIS message log holds patient data: administrators only")


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name}: '{raw[:40]}' is not a date (YYYY-MM-DD)") from None


def log_query(params: Any) -> tuple[list[Any], int]:
    """WHERE clauses and the page size from query parameters (shared with the admin page)."""
    where: list[Any] = []
    outcome = params.get("outcome") or None
    if outcome:
        if outcome not in OUTCOMES:
            raise BadRequest(f"outcome: one of {', '.join(OUTCOMES)}")
        where.append(his_messages.c.outcome == outcome)
    kind = (params.get("type") or "").strip()
    if kind:
        where.append(his_messages.c.message_type.like(f"%{kind[:40]}%"))
    patient = (params.get("patient") or "").strip()
    if patient:
        where.append(his_messages.c.patient_key == patient[:100])
    start, end = _day(params.get("from"), "from"), _day(params.get("to"), "to")
    if start:
        where.append(his_messages.c.received_at >= datetime.combine(start, datetime.min.time()))
    if end:
        where.append(his_messages.c.received_at < datetime.combine(end + timedelta(days=1), datetime.min.time()))
    before = params.get("before")
    if before:
        where.append(his_messages.c.id < record_id(str(before)))
    raw_limit = params.get("limit") or "50"
    if not str(raw_limit).isdigit() or not 1 <= int(raw_limit) <= 200:
        raise BadRequest("limit: a whole number from 1 to 200")
    return where, int(raw_limit)


SUMMARY = [
    his_messages.c.id,
    his_messages.c.received_at,
    his_messages.c.channel,
    his_messages.c.control_id,
    his_messages.c.message_type,
    his_messages.c.patient_key,
    his_messages.c.event_time,
    his_messages.c.outcome,
    his_messages.c.error,
]


def _json(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for key in ("received_at", "event_time"):
        if out.get(key) is not None:
            out[key] = out[key].isoformat(timespec="seconds")
    return out


def list_messages(app: Any, params: Any) -> tuple[list[dict[str, Any]], int | None]:
    where, limit = log_query(params)
    with app.db.read() as conn:
        rows = conn.execute(sa.select(*SUMMARY).where(*where).order_by(his_messages.c.id.desc()).limit(limit + 1)).all()
    items = [_json(r) for r in rows[:limit]]
    return items, (items[-1]["id"] if len(rows) > limit else None)


def get_message(app: Any, message_id: int) -> dict[str, Any]:
    with app.db.read() as conn:
        row = conn.execute(sa.select(his_messages).where(his_messages.c.id == message_id)).first()
    if row is None:
        raise NotFound(f"no HIS message {message_id}")
    return _json(row)


@router.get("/messages")
def messages(request: Request) -> dict[str, Any]:
    _admin(request)
    items, next_before = list_messages(tessera(request), request.query_params)
    return {"items": items, "next_before": next_before}


@router.get("/messages/{message_id}")
def message(message_id: str, request: Request) -> dict[str, Any]:
    _admin(request)
    return get_message(tessera(request), record_id(message_id))
