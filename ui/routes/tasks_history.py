"""A workflow instance's history and current steps in words: who did what, when, with which outcome."""

from __future__ import annotations

from typing import Any

from ui.i18n import MESSAGES
from ui.routes.tasks_common import Page, due_mark, local_time, names, outcome_label, role_label, task_label

ICONS = {
    "started": "bi-play-circle",
    "task_completed": "bi-check2-circle",
    "task_claimed": "bi-hand-index",
    "task_delegated": "bi-person-up",
    "task_reassigned": "bi-arrow-left-right",
    "timer_fired": "bi-alarm",
    "message_received": "bi-envelope",
    "withdrawn": "bi-x-circle",
    "migrated": "bi-arrow-up-circle",
    "completed": "bi-flag",
    "error": "bi-exclamation-octagon",
}
TONES = {"reject": "danger", "abandon": "danger", "approve": "success", "resubmit": "primary"}


def history_items(p: Page, instance: dict[str, Any]) -> list[dict[str, Any]]:
    """Oldest first, each with the step's label, the actor's name, outcome and comment."""
    pid = instance["process_id"]
    steps = {t["element_id"]: t.get("name") for t in instance.get("tasks", [])}
    events = instance.get("history", [])
    people = names(p.app, [e.get("actor_id") for e in events] + [(e.get("detail") or {}).get("to") for e in events])
    out = []
    for e in events:
        detail = e.get("detail") or {}
        element = e.get("element_id")
        outcome = detail.get("outcome")
        kind = e["kind"]
        out.append(
            {
                "kind": kind,
                "kind_label": p.t(f"wf.event.{kind}") if f"wf.event.{kind}" in MESSAGES else kind,
                "icon": ICONS.get(kind, "bi-dot"),
                "at": local_time(e.get("at")),
                "actor": people.get(e.get("actor_id") or 0) or (p.t("wf.system") if e.get("actor_id") is None else ""),
                "step": task_label(p.lang, pid, element, steps.get(element)) if element else "",
                "outcome": outcome_label(p.lang, outcome),
                "tone": TONES.get(outcome or "", "secondary"),
                "comment": detail.get("comment") or "",
                "to": people.get(detail.get("to") or 0, ""),
                "note": detail.get("message") or "",
            }
        )
    return out


def current_steps(p: Page, instance: dict[str, Any]) -> list[dict[str, Any]]:
    now = p.app.clock.now()
    people = names(p.app, [t.get("assignee_id") for t in instance.get("current", [])])
    return [
        {
            **t,
            "label": task_label(p.lang, instance["process_id"], t["element_id"], t.get("name")),
            "assignee": people.get(t.get("assignee_id") or 0),
            "role_text": role_label(p.app, p.lang, t.get("role")),
            "due_text": local_time(t.get("due_at")),
            "due_mark": due_mark(t, now),
        }
        for t in instance.get("current", [])
    ]
