"""Rule actions (PL-09), shared by rules and state-machine effects: set fields, create records, create
tasks, notify, start a workflow, call a webhook. Every action runs in the caller's transaction (records
through the joined records service), so the actions of one rule run commit or roll back together;
outside effects (email, SMS, webhooks) are deferred as jobs that exist only if that transaction commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.automation.rules.model import parse_duration
from runtime.automation.rules.templating import render
from runtime.clock import FixedClock
from runtime.errors import BadRequest
from runtime.expressions import compile_expression
from runtime.notify.contacts import Contact, ContactResolver
from runtime.records.context import Context
from runtime.records.service import joined_transaction
from runtime.storage import platform_tables as pt

RULE_CTX = Context(channel="rule", lang="en")
"""Rules act as the platform: permissions-as-system, the audit trail says channel 'rule'."""
WEBHOOK_TASK = "rules.webhook"


@dataclass
class ActionEnv:
    """Where one list of actions runs: the open transaction, the record it is about, and its key."""

    app: Any
    conn: Connection
    rule_id: str
    key: str
    """Idempotency key of this run; each action derives its own (key:index)."""
    entity: str | None
    record: dict[str, Any] | None
    variables: dict[str, Any]
    now: datetime
    ctx: Context = RULE_CTX

    @property
    def record_id(self) -> int | None:
        return self.record.get("id") if self.record else None

    def value(self, source: str) -> Any:
        """An expression's value in the JSON shape the records service takes (dates as ISO text)."""
        return json_value(compile_expression(source).evaluate(self.variables, clock=FixedClock(self.now)))

    def text(self, template: str | None) -> str | None:
        return None if template is None else render(template, self.variables, FixedClock(self.now))


def prepare(app: Any, actions: list[dict[str, Any]]) -> None:
    """Work that opens its own transaction, done before the actions' transaction starts (SQLite has one writer)."""
    if any(a.get("type") == "start_workflow" for a in actions):
        app.workflows.ensure_repo_specs()


def run_actions(env: ActionEnv, actions: list[dict[str, Any]]) -> None:
    with joined_transaction(env.conn):
        for index, action in enumerate(actions):
            handler = HANDLERS.get(action.get("type", ""))
            if handler is None:
                raise BadRequest(f"unknown rule action '{action.get('type')}'")
            handler(env, action, f"{env.key}:{index}")


def _set_fields(env: ActionEnv, action: dict[str, Any], key: str) -> None:
    if env.entity is None or env.record_id is None:
        raise BadRequest("set_fields needs a record (a rule with an entity)")
    values = {name: env.value(source) for name, source in action["values"].items()}
    updated = env.app.records.update(env.entity, env.record_id, values, env.ctx, expected_version=None)
    env.record = updated
    env.variables.update(updated)
    env.variables["record"] = updated


def _create_record(env: ActionEnv, action: dict[str, Any], key: str) -> None:
    values = {name: env.value(source) for name, source in action["values"].items()}
    env.app.records.create(action["entity"], values, env.ctx)


def _create_task(env: ActionEnv, action: dict[str, Any], key: str) -> None:
    from runtime.automation.assignment import assign

    assignee = None
    if action.get("assignee"):
        assignee = assign(env.app, env.conn, action["assignee"], env.record, entity=env.entity)
    due = env.now + parse_duration(action["due"]) if action.get("due") else None
    env.app.work_items.create(
        env.conn,
        title=env.text(action["title"]) or "",
        assignee_id=assignee,
        due_at=due,
        key=key,
        entity=env.entity if env.record_id else None,
        record_id=env.record_id,
        form=action.get("form"),
        channel=action.get("channel"),
        source="rule",
        detail={"rule": env.rule_id},
    )


def recipients(env: ActionEnv, specs: list[dict[str, Any]]) -> list[int]:
    """User ids named by a user field of the record, its owner, a role, or a user name."""
    found: list[int] = []
    record = env.record or {}
    for spec in specs:
        if "field" in spec:
            value = record.get(spec["field"])
            found += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int)]
        elif spec.get("owner"):
            if isinstance(record.get("owner_id"), int):
                found.append(record["owner_id"])
        elif "role" in spec:
            q = (
                sa.select(pt.user_roles.c.user_id)
                .join(pt.users, pt.users.c.id == pt.user_roles.c.user_id)
                .where(pt.user_roles.c.role_id == spec["role"], pt.users.c.active.is_(True))
            )
            found += list(env.conn.execute(q).scalars())
        elif "user" in spec:
            uid = env.conn.execute(sa.select(pt.users.c.id).where(pt.users.c.username == spec["user"])).scalar()
            if uid is not None:
                found.append(uid)
    return sorted(set(found))


def contacts(env: ActionEnv, specs: list[dict[str, Any]]) -> list[Contact]:
    """The people outside the user list (a patient) named by ``contact`` recipients, read from the record."""
    if not env.entity or not env.record:
        return []
    resolver = ContactResolver(env.app)
    with joined_transaction(env.conn):
        found = [resolver.resolve(env.entity, env.record, spec["contact"]) for spec in specs if "contact" in spec]
    return [c for c in found if c is not None]


def _notify(env: ActionEnv, action: dict[str, Any], key: str) -> None:
    users = recipients(env, action["recipients"])
    people = contacts(env, action["recipients"])
    if not users and not people:
        return
    record = (env.entity, env.record_id) if env.entity and env.record_id else None
    env.app.notifier.notify(
        env.conn,
        user_ids=users,
        key=key,
        title=env.text(action.get("title")),
        body=env.text(action.get("body")),
        template=action.get("template"),
        context={k: v for k, v in env.variables.items() if k not in ("record", "before", "input")},
        record=record,
        link=f"/r/{env.entity}/{env.record_id}" if record else None,
        channels=action.get("channels"),
        contacts=people,
    )


def _start_workflow(env: ActionEnv, action: dict[str, Any], key: str) -> None:
    data = {name: env.value(source) for name, source in (action.get("data") or {}).items()}
    record = (env.entity, env.record_id) if env.entity and env.record_id else None
    host = env.app.workflows
    # the host's transaction-joining start: the instance exists iff this rule run commits
    host.start_in(
        env.conn, action["process"], data, env.ctx, record=record, correlation_key=key, clock=FixedClock(env.now)
    )


def _webhook(env: ActionEnv, action: dict[str, Any], key: str) -> None:
    url = action["url"]
    if url.startswith("param:"):
        url = env.app.params.get(url.removeprefix("param:"))
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise BadRequest(f"parameter '{action['url']}' does not hold an http(s) URL")
    body = {name: env.value(source) for name, source in (action.get("body") or {}).items()}
    payload = {
        "url": url,
        "body": body,
        "rule": env.rule_id,
        "entity": env.entity,
        "record_id": env.record_id,
        "key": key + ":webhook",
    }
    env.app.jobs.defer(WEBHOOK_TASK, payload, key=key + ":webhook", conn=env.conn)


def json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else str(value)
    return str(value)


HANDLERS = {
    "set_fields": _set_fields,
    "create_record": _create_record,
    "create_task": _create_task,
    "notify": _notify,
    "start_workflow": _start_workflow,
    "webhook": _webhook,
}
