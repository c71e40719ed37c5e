"""Pools over REST (PL-12).

* ``GET  /api/v1/pools`` the pools the caller may see
* ``GET  /api/v1/pools/{pool}`` the pool's records the caller may see, the caller's holdings and counters
  (``claimed_today``/``claim_cap``, ``holding``/``holding_cap``)
* ``POST /api/v1/pools/{pool}/records/{id}/claim|release|recycle``
* ``POST /api/v1/pools/{pool}/records/{id}/assign`` {"user_id": optional; without it the pool's assignment picks}
* ``GET  /api/v1/pools/{pool}/records/{id}/events`` who did what, when

Refusals are 409 with codes pool_claim_cap, pool_holding_cap, pool_protected, pool_not_in_pool, pool_not_held;
a missing role is 403.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from runtime.api.deps import context, current_user, json_body, record_id, tessera
from runtime.errors import BadRequest, NotFound
from runtime.records.context import Context
from runtime.records.query import Filter, ListQuery

router = APIRouter(prefix="/api/v1", tags=["pools"])
ASSIGN_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"user_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}},
                }
            }
        },
    }
}


def _ctx(request: Request) -> Context:
    return context(request, current_user(request))


def pool_summary(app: Any, pool: dict, ctx: Context) -> dict[str, Any]:
    """The pool, the records in it the caller may see, their holdings and counters (API and page)."""
    with app.db.read() as conn:
        standing = app.pools.standing(conn, pool, ctx.user_id) if ctx.user_id else None
        may_claim = app.pools.may_claim(conn, pool, ctx)
        may_manage = app.pools.may_manage(conn, pool, ctx)
    if pool.get("status_field"):
        free_filter = Filter(pool["status_field"], "in", pool["pool_values"])
    else:  # a pool without status: the records without holder
        free_filter = Filter(pool["owner_field"], "empty", True)
    free = app.records.list(pool["entity"], ListQuery(filters=[free_filter], limit=200), ctx)
    mine_filters = [Filter(pool["owner_field"], "eq", ctx.user_id)]
    if pool.get("status_field"):
        mine_filters.append(Filter(pool["status_field"], "ne", pool["pool_values"][0]))
    mine = app.records.list(pool["entity"], ListQuery(filters=mine_filters, limit=200), ctx)
    held: list[dict[str, Any]] = []
    if may_manage:  # a manager also sees what others hold, to reassign or recycle it
        held_page = app.records.list(
            pool["entity"],
            ListQuery(filters=[Filter(pool["owner_field"], "empty", False)], limit=200),
            ctx,
        )
        held = [
            r for r in held_page.items if not app.pools.in_pool(pool, r) and r.get(pool["owner_field"]) != ctx.user_id
        ]
    return {
        "pool": {k: pool.get(k) for k in ("id", "entity", "label", "recycle_after_days", "protection_days")},
        "held": held,
        "records": free.items,
        "mine": [r for r in mine.items if not app.pools.in_pool(pool, r)],
        "claimed_today": standing.claimed_today if standing else 0,
        "claim_cap": pool.get("claim_cap_per_day"),
        "holding": standing.holding if standing else 0,
        "holding_cap": pool.get("holding_cap"),
        "may_claim": may_claim,
        "may_manage": may_manage,
    }


@router.get("/pools")
def list_pools(request: Request) -> dict[str, Any]:
    ctx = _ctx(request)
    app = tessera(request)
    items = []
    for pool in sorted(app.pools.definitions().values(), key=lambda p: p["id"]):
        if app.permissions.can(ctx, pool["entity"], "read"):
            items.append({"id": pool["id"], "entity": pool["entity"], "label": pool["label"]})
    return {"items": items}


@router.get("/pools/{pool_id}")
def get_pool(request: Request, pool_id: str) -> dict[str, Any]:
    ctx = _ctx(request)
    app = tessera(request)
    pool = app.pools.get(pool_id)
    if not app.permissions.can(ctx, pool["entity"], "read"):
        raise NotFound(f"unknown pool '{pool_id[:100]}'")
    return pool_summary(app, pool, ctx)


@router.post("/pools/{pool_id}/records/{rid}/claim")
def claim(request: Request, pool_id: str, rid: str) -> dict[str, Any]:
    return tessera(request).pools.claim(pool_id, record_id(rid), _ctx(request))


@router.post("/pools/{pool_id}/records/{rid}/release")
def release(request: Request, pool_id: str, rid: str) -> dict[str, Any]:
    return tessera(request).pools.release(pool_id, record_id(rid), _ctx(request))


@router.post("/pools/{pool_id}/records/{rid}/recycle")
def recycle(request: Request, pool_id: str, rid: str) -> dict[str, Any]:
    return tessera(request).pools.recycle(pool_id, record_id(rid), _ctx(request))


@router.post("/pools/{pool_id}/records/{rid}/assign", openapi_extra=ASSIGN_BODY)
async def assign(request: Request, pool_id: str, rid: str) -> dict[str, Any]:
    body = await json_body(request) if await request.body() else {}
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    user_id = body.get("user_id")
    if user_id is not None and (not isinstance(user_id, int) or isinstance(user_id, bool) or not 0 < user_id < 2**63):
        raise BadRequest("'user_id' must be a user id (or left out: the pool's assignment picks)")
    return tessera(request).pools.assign(pool_id, record_id(rid), _ctx(request), user_id)


@router.get("/pools/{pool_id}/records/{rid}/events")
def events(request: Request, pool_id: str, rid: str) -> dict[str, Any]:
    ctx = _ctx(request)
    app = tessera(request)
    pool = app.pools.get(pool_id)
    app.records.get(pool["entity"], record_id(rid), ctx)  # 404 outside the caller's scope
    with app.db.read() as conn:
        rows = app.pools.events(conn, pool_id, record_id(rid))
    return {"items": [{**r, "at": r["at"].isoformat()} for r in rows]}
