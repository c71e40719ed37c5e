"""The plan instances of a record as a timeline: what the record page and the API show.

Each step gets a state for display: done, sent, skipped, cancelled, alerted (done with an alert raised),
overdue (its work item is past its SLA, or a pending step past its time), due (open, or pending and due now)
and planned (pending, in the future).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from runtime.automation.followups.plans import text
from runtime.automation.followups.tables import followup_plans as fp
from runtime.automation.followups.tables import followup_steps as fs
from runtime.automation.followups.tables import work_items as wi


def step_state(step: dict[str, Any], item: dict[str, Any] | None, now: datetime) -> str:
    status = step["status"]
    if status == "done":
        return "alerted" if step.get("alerts") else "done"
    if status in ("sent", "skipped", "cancelled"):
        return status
    if status == "open":
        if item is not None and item["status"] == "overdue":
            return "overdue"
        return "due"
    return "due" if step["due_at"] <= now else "planned"


def timeline(app: Any, entity: str, record_id: int, lang: str) -> list[dict[str, Any]]:
    """Every plan instance of the record (newest first) with its steps in time order."""
    now = app.clock.now()
    plans = app.followups.plans()
    with app.db.read() as conn:
        instances = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(fp).where(fp.c.entity == entity, fp.c.record_id == record_id).order_by(fp.c.id.desc())
            )
        ]
        ids = [i["id"] for i in instances]
        steps = (
            [
                dict(r._mapping)
                for r in conn.execute(
                    sa.select(fs).where(fs.c.plan_instance_id.in_(ids)).order_by(fs.c.due_at, fs.c.id)
                )
            ]
            if ids
            else []
        )
        item_ids = [s["work_item_id"] for s in steps if s["work_item_id"]]
        items = (
            {r.id: dict(r._mapping) for r in conn.execute(sa.select(wi).where(wi.c.id.in_(item_ids)))}
            if item_ids
            else {}
        )
    out = []
    for inst in instances:
        plan = plans.get(inst["plan_id"])
        shown = []
        for s in (s for s in steps if s["plan_instance_id"] == inst["id"]):
            item = items.get(s["work_item_id"]) if s["work_item_id"] else None
            shown.append(
                {
                    "id": s["id"],
                    "step_id": s["step_id"],
                    "label": text(s["label"], lang),
                    "channel": s["channel"],
                    "form": s["form"],
                    "due_at": s["due_at"].isoformat(),
                    "status": s["status"],
                    "state": step_state(s, item, now),
                    "moved": s["moved"],
                    "adhoc": s["adhoc"],
                    "assignee_id": (item or {}).get("assignee_id") or s["assignee_id"],
                    "work_item_id": s["work_item_id"],
                    "work_item_status": (item or {}).get("status"),
                    "result": {"entity": item["result_entity"], "id": item["result_id"]}
                    if item and item.get("result_id")
                    else None,
                    "alerts": s["alerts"] or [],
                    "done_at": s["done_at"].isoformat() if s["done_at"] else None,
                    "adjustable": inst["status"] == "active" and s["status"] in ("pending", "open"),
                }
            )
        out.append(
            {
                "id": inst["id"],
                "plan_id": inst["plan_id"],
                "label": text(plan.label, lang) if plan is not None else inst["plan_id"],
                "status": inst["status"],
                "anchor_at": inst["anchor_at"].isoformat(),
                "created_at": inst["created_at"].isoformat(),
                "history": inst["history"] or [],
                "steps": shown,
            }
        )
    return out
