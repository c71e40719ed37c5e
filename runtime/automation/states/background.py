"""Actions that run as a background job: a transition with ``"background": true``.

Why: an action whose effects reach a whole segment held the person's request for as long as they ran (the
patient CRM's campaign 发送 to 4,900 patients took 10.5 s on the demo; 20,000 would pass a proxy's 60 s
timeout), and on SQLite it held everyone else's writes as long. Such an action is checked when it is asked
for (the record is readable, state, role, guard: the person hears at once if it may not run), then queued;
the job performs it through the same ``perform`` (checked again, one transaction, audited as that person with
that person's roles) and tells the person the outcome in an in-app notification linking to the record.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from typing import Any

from runtime.automation.rules.actions import json_value
from runtime.blueprints.model import label_text
from runtime.errors import BadRequest, Conflict, Forbidden, NotFound, RecordInvalid
from runtime.records.context import Context
from runtime.records.titles import record_title

log = logging.getLogger("tessera.actions")
TASK = "states.background_action"
QUEUED_KEY = "action_queued"
"""Added to the record ``perform`` returns for a queued action: {"action", "job"} (the API passes it on)."""
_IN_JOB: contextvars.ContextVar[bool] = contextvars.ContextVar("tessera_background_action", default=False)
DONE = {"zh": "“{action}”已完成：{title}", "en": "{action} done: {title}"}
FAILED = {"zh": "“{action}”未能执行：{title}", "en": "{action} could not run: {title}"}


def runs_in_background(t: dict[str, Any]) -> bool:
    """True when this call of the action should be queued (not when the job itself performs it)."""
    return bool(t.get("background")) and not _IN_JOB.get()


def queue(app: Any, entity: str, record: dict[str, Any], t: dict[str, Any], input: dict, ctx: Context) -> dict:  # noqa: A002
    """Queue the checked action; returns the record as it is now, marked with ``QUEUED_KEY``."""
    key = f"{TASK}:{entity}:{record['id']}:{t['id']}:{uuid.uuid4().hex[:12]}"
    payload = {
        "entity": entity,
        "record_id": record["id"],
        "action": t["id"],
        "input": json_value(input),  # plain JSON for the payload: dates as ISO text
        "user_id": ctx.user_id,
        "is_admin": ctx.is_admin,
        "roles": sorted(ctx.roles) if ctx.roles is not None else None,
        "channel": ctx.channel,
        "lang": ctx.lang,
    }
    app.jobs.defer(TASK, payload, key=key)
    return {**record, QUEUED_KEY: {"action": t["id"], "job": key}}


def install(app: Any) -> None:
    app.jobs.task(TASK, retries=2, retry_seconds=60)(lambda payload: run(app, payload))


def run(app: Any, payload: dict[str, Any]) -> None:
    """The job: perform the action as the person who asked, then tell them how it went. A refusal (the record
    changed meanwhile, the person lost the role) is an outcome, told and not retried; anything else raises and
    the job is retried."""
    from runtime.automation.states.service import machine_for, perform, transition

    user = app.users.get(payload["user_id"]) if payload.get("user_id") is not None else None
    if user is None:  # deleted or deactivated since: nobody to act as
        log.warning("background action %s dropped: user #%s is not active", payload.get("action"), payload["user_id"])
        return
    roles = payload.get("roles")
    ctx = Context(
        user_id=user.id,
        channel=payload.get("channel") or "api",
        lang=payload.get("lang") or user.language or "zh",
        is_admin=bool(payload.get("is_admin")) and bool(user.is_admin),
        department_id=user.department_id,
        roles=tuple(roles) if roles is not None else None,
    )
    entity, record_id = payload["entity"], int(payload["record_id"])
    t = transition(machine_for(app, entity) or {"transitions": []}, payload["action"])
    token = _IN_JOB.set(True)
    try:
        perform(app, entity, record_id, payload["action"], payload.get("input") or {}, ctx)
    except (Conflict, Forbidden, RecordInvalid, NotFound, BadRequest) as exc:
        _tell(app, user, entity, record_id, t, FAILED, str(exc))
        return
    finally:
        _IN_JOB.reset(token)
    _tell(app, user, entity, record_id, t, DONE, None)


def _tell(
    app: Any, user: Any, entity: str, record_id: int, t: dict[str, Any], text: dict[str, str], reason: str | None
) -> None:
    lang = "en" if (user.language or "zh").startswith("en") else "zh"
    ctx = Context(user_id=user.id, channel="system", lang=lang, department_id=user.department_id)
    try:
        record = app.records.get(entity, record_id, ctx)
        title = record_title(app, app.registry.entity(entity), record, ctx)
    except (NotFound, Forbidden):
        title = f"#{record_id}"
    action = label_text(t.get("label"), lang) or t.get("id", "")
    with app.db.write() as conn:
        app.notifier.notify(
            conn,
            user_ids=[user.id],
            key=f"{TASK}:{uuid.uuid4().hex}",
            title=text[lang].format(action=action, title=title),
            body=reason,
            record=(entity, record_id),
            kind="action_done",
        )
