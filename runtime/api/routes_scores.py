"""Scores over REST (PL-11, RN-08).

* ``GET /api/v1/scores`` the scores the caller may see
* ``GET /api/v1/scores/{score_id}/ranking?limit=`` records by score, highest first, with their grade (heat ranking);
  only records the caller may see
* ``GET /api/v1/scores/{score_id}/records/{id}`` one record's score, explanation (components with raw value,
  decay, normalised value, weight, contribution and inputs) and grade history
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from runtime.api.deps import context, current_user, record_id, tessera
from runtime.blueprints.model import label_text
from runtime.errors import BadRequest, NotFound
from runtime.records.context import Context
from runtime.records.query import Filter, ListQuery

router = APIRouter(prefix="/api/v1", tags=["scores"])


def _ctx(request: Request) -> Context:
    return context(request, current_user(request))


def _score(request: Request, score_id: str, ctx: Context) -> dict:
    app = tessera(request)
    score = app.scores.get(score_id)
    if not app.permissions.can(ctx, score["entity"], "read"):
        raise NotFound(f"unknown score '{score_id[:100]}'")
    return score


def ranking(app: Any, score: dict, ctx: Context, limit: int = 50) -> list[dict[str, Any]]:
    """Records by score descending (API and page); permissions and masking of the records service apply."""
    entity = app.registry.entity(score["entity"])
    query = ListQuery(filters=[Filter(score["field"], "empty", False)], sort=[(score["field"], True)], limit=limit)
    page = app.records.list(score["entity"], query, ctx)
    grade_field = score["grade"]["field"] if score.get("grade") else None
    return [
        {
            "rank": i + 1,
            "id": r["id"],
            "title": r.get(entity.title_field),
            "score": r.get(score["field"]),
            "grade": r.get(grade_field) if grade_field else None,
        }
        for i, r in enumerate(page.items)
    ]


@router.get("/scores")
def list_scores(request: Request) -> dict[str, Any]:
    ctx = _ctx(request)
    app = tessera(request)
    items = [
        {"id": s["id"], "entity": s["entity"], "label": label_text(s["label"], ctx.lang), "field": s["field"]}
        for s in sorted(app.scores.definitions().values(), key=lambda s: s["id"])
        if app.permissions.can(ctx, s["entity"], "read")
    ]
    return {"items": items}


@router.get(
    "/scores/{score_id}/ranking",
    openapi_extra={
        "parameters": [
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
        ]
    },
)
def score_ranking(request: Request, score_id: str) -> dict[str, Any]:
    ctx = _ctx(request)
    score = _score(request, score_id, ctx)
    raw = request.query_params.get("limit", "50")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 500:
        raise BadRequest("'limit' must be a whole number from 1 to 500")
    return {"score": score["id"], "items": ranking(tessera(request), score, ctx, int(raw))}


@router.get("/scores/{score_id}/records/{rid}")
def score_of_record(request: Request, score_id: str, rid: str) -> dict[str, Any]:
    ctx = _ctx(request)
    app = tessera(request)
    score = _score(request, score_id, ctx)
    app.records.get(score["entity"], record_id(rid), ctx)  # 404 outside the caller's scope
    with app.db.read() as conn:
        found = [
            e for e in app.scores.explanations(conn, score["entity"], record_id(rid)) if e["score"]["id"] == score_id
        ]
    shown = found[0]
    return {
        "score": score_id,
        "value": shown["value"],
        "grade": shown["grade"],
        "computed_at": shown["computed_at"].isoformat() if shown["computed_at"] else None,
        "components": shown["components"],
        "history": [
            {"from": h["from_grade"], "to": h["to_grade"], "score": h["score"], "at": h["at"].isoformat()}
            for h in shown["history"]
        ],
    }
