"""The pool page (/pools/{id}, 公海): records in the pool with claim buttons, my holdings with release, a
manager's assign picker and recycle, and the caps ("今日已领 3/5"). Actions post to this module, which calls
the pools service (runtime/automation/pools) and redirects back with a message."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from runtime.api.deps import record_id as parse_record_id
from runtime.api.routes_pools import pool_summary
from runtime.automation.assignment import role_holders
from runtime.blueprints.model import label_text
from runtime.errors import BadRequest, Conflict, Forbidden, NotFound
from runtime.records.context import Context
from runtime.records.names import user_names
from runtime.records.titles import record_title
from runtime.storage import platform_tables as pt
from ui.formatting import local_datetime_text
from ui.routes.tasks_common import page
from ui.session import flash, safe_next
from ui.templating import Crumb, render

router = APIRouter()
ACTIONS = ("claim", "release", "assign", "recycle")


def _row(app: Any, pool: dict, record: dict, names: dict[int, str], ctx: Context) -> dict[str, Any]:
    entity = app.registry.entity(pool["entity"])
    owner = record.get(pool["owner_field"])
    last = record.get(pool.get("last_activity_field") or "") if pool.get("last_activity_field") else None
    return {
        "id": record["id"],
        "title": record_title(app, entity, record, ctx),
        "href": f"/r/{entity.id}/{record['id']}",
        "owner": names.get(owner, "") if isinstance(owner, int) else "",
        "last": local_datetime_text(last) if isinstance(last, str) else "",
    }


def candidates(app: Any, pool: dict) -> list[dict[str, Any]]:
    """Who a manager may assign to: the holders of the pool's claim roles (all active users without roles)."""
    with app.db.read() as conn:
        ids: set[int] = set()
        for role in pool.get("claim_roles") or []:
            ids.update(role_holders(conn, role))
        if not pool.get("claim_roles"):
            ids = set(conn.execute(sa.select(pt.users.c.id).where(pt.users.c.active.is_(True))).scalars())
    names = user_names(app, sorted(ids))
    return [{"id": i, "name": names.get(i, f"#{i}")} for i in sorted(ids)]


@router.get("/pools/{pool_id}")
def pool_page(request: Request, pool_id: str) -> Response:
    p = page(request)
    pool = p.app.pools.get(pool_id[:100])
    if not p.app.permissions.can(p.ctx, pool["entity"], "read"):
        raise NotFound(f"unknown pool '{pool_id[:100]}'")
    summary = pool_summary(p.app, pool, p.ctx)
    owners = [r.get(pool["owner_field"]) for r in summary["records"] + summary["mine"] + summary["held"]]
    names = user_names(p.app, [o for o in owners if isinstance(o, int)])
    title = label_text(pool["label"], p.lang)
    return render(
        request,
        "automation/pool_page.html",
        p.user,
        crumbs=[Crumb(p.t("nav.home"), "/"), Crumb(title)],
        page_title=title,
        pool=pool,
        title=title,
        entity=p.app.registry.entity(pool["entity"]),
        summary=summary,
        free=[_row(p.app, pool, r, names, p.ctx) for r in summary["records"]],
        mine=[_row(p.app, pool, r, names, p.ctx) for r in summary["mine"]],
        held=[_row(p.app, pool, r, names, p.ctx) for r in summary["held"]],
        people=candidates(p.app, pool) if summary["may_manage"] else [],
    )


@router.post("/pools/{pool_id}/records/{rid}/{action}")
async def pool_action(request: Request, pool_id: str, rid: str, action: str) -> Response:
    p = page(request)
    if action not in ACTIONS:
        raise NotFound(f"unknown pool action '{action[:40]}'")
    ident = parse_record_id(rid)
    post = await request.form()
    back = safe_next(str(post.get("next") or ""), f"/pools/{pool_id[:100]}")
    pools = p.app.pools
    try:
        if action == "assign":
            raw = str(post.get("user_id") or "")
            if raw and not (raw.isascii() and raw.isdigit() and len(raw) < 19):
                raise BadRequest(p.t("pool.assign_to"))
            pools.assign(pool_id[:100], ident, p.ctx, int(raw) if raw else None)
        else:
            getattr(pools, action)(pool_id[:100], ident, p.ctx)
    except (Conflict, Forbidden, BadRequest, NotFound) as exc:
        flash(request, "warning", p.t("pool.failed", reason=exc.message))
        return RedirectResponse(back, status_code=303)
    flash(request, "success", p.t(f"pool.done.{action}"))
    return RedirectResponse(back, status_code=303)
