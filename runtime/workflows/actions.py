"""Named runtime actions that service tasks call: record.create, record.update, notify, process.start.

Each call runs inside the host's transaction (records through the joined records service), and is
remembered under an idempotency key (instance + spiff task id) in wf_effects: a step replayed after
a crash returns the stored result instead of acting twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.errors import BadRequest
from runtime.records.context import Context
from runtime.storage import platform_tables as pt
from runtime.workflows.assignment import as_id


@dataclass
class ActionCall:
    """What an action gets: the open connection, the evaluated parameters and who/what is running it."""

    conn: Connection
    params: dict[str, Any]
    instance: dict[str, Any]
    element_id: str
    key: str
    now: datetime
    ctx: Context


Action = Callable[[ActionCall], Any]


class Actions:
    """The action registry; issue 5 adds channels to notify, integrations add their own actions."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}

    def register(self, name: str, action: Action) -> None:
        self._actions[name] = action

    def get(self, name: str) -> Action:
        if name not in self._actions:
            known = ", ".join(sorted(self._actions))
            raise BadRequest(f"unknown action '{name}' (known: {known})")
        return self._actions[name]

    def names(self) -> list[str]:
        return sorted(self._actions)

    def run(self, name: str, call: ActionCall) -> Any:
        """Run once per key: a replay returns the stored result."""
        t = pt.wf_effects
        done = call.conn.execute(sa.select(t.c.result).where(t.c.key == call.key)).first()
        if done is not None:
            return done.result
        result = self.get(name)(call)
        call.conn.execute(sa.insert(t).values(key=call.key, result=result, created_at=call.now))
        return result


def _param(call: ActionCall, name: str, kind: type | tuple[type, ...]) -> Any:
    value = call.params.get(name)
    if not isinstance(value, kind):
        raise BadRequest(f"parameter '{name}' must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def notify(call: ActionCall) -> dict[str, Any]:
    """An in-app notification (user, title, body, link); delivery channels come with issue 5."""
    user = as_id(call.params.get("user"))
    if user is None:
        raise BadRequest(f"parameter 'user' must be a user id, got {call.params.get('user')!r}")
    values = {
        "user_id": user,
        "title": str(_param(call, "title", str))[:300],
        "body": None if call.params.get("body") is None else str(call.params["body"]),
        "link": None if call.params.get("link") is None else str(call.params["link"])[:500],
        "source": call.key,
        "created_at": call.now,
    }
    new_id = call.conn.execute(sa.insert(pt.notifications).values(**values)).inserted_primary_key[0]
    return {"notification_id": new_id}


def notify_action(tessera: Any) -> Action:
    """``notify`` through the platform notifier (runtime/notify: in-app row, delivery log, the user's channels),
    keyed by the step's idempotency key; the direct in-app write above only where no notifier is installed."""

    def run(call: ActionCall) -> dict[str, Any]:
        notifier = getattr(tessera, "notifier", None)
        if notifier is None:
            return notify(call)
        user = as_id(call.params.get("user"))
        if user is None:
            raise BadRequest(f"parameter 'user' must be a user id, got {call.params.get('user')!r}")
        record = (call.instance["entity"], call.instance["record_id"]) if call.instance.get("entity") else None
        notifier.notify(
            call.conn,
            user_ids=[user],
            key=call.key,
            title=str(_param(call, "title", str))[:300],
            body=None if call.params.get("body") is None else str(call.params["body"]),
            link=None if call.params.get("link") is None else str(call.params["link"])[:500],
            record=record,
            kind="workflow",
        )
        return {"notified": [user]}

    return run


def record_actions(records: Any) -> dict[str, Action]:
    """record.create / record.update through the one records service (validation, audit, permissions)."""

    def create(call: ActionCall) -> dict[str, Any]:
        values = _param(call, "values", dict)
        record = records.create(_param(call, "entity", str), values, call.ctx)
        return {"id": record["id"]}

    def update(call: ActionCall) -> dict[str, Any]:
        record_id = as_id(call.params.get("id"))
        if record_id is None:
            raise BadRequest(f"parameter 'id' must be a record id, got {call.params.get('id')!r}")
        record = records.update(
            _param(call, "entity", str), record_id, _param(call, "values", dict), call.ctx, expected_version=None
        )
        return {"id": record["id"], "version": record["version"]}

    return {"record.create": create, "record.update": update}
