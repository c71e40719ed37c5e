"""Performing record actions (PL-08).

An action is a named transition of an entity's state machine. ``perform`` checks, in this order, the
current state, the user's roles, the guard, then writes the new state, the transition's ``set`` values
and the input form's values through the records service (validation, permissions, audit) in one
transaction with the effects that write records; notifications and webhooks leave as deferred jobs.
The state field cannot be edited directly (before_write hook) - only by an action, or on create where
it starts at the machine's initial state.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

from runtime.automation.rules.actions import ActionEnv, json_value, prepare, run_actions
from runtime.automation.rules.model import variables
from runtime.blueprints.model import label_text
from runtime.clock import FixedClock
from runtime.errors import BadRequest, Conflict, Forbidden, NotFound, RecordInvalid
from runtime.expressions import compile_expression
from runtime.records.context import Context
from runtime.records.hooks import WriteEvent
from runtime.records.service import joined_transaction
from runtime.validation.errors import FieldError

_PERFORMING: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar(
    "tessera_state_action", default=None
)
DIRECT_EDIT = {
    "zh": "状态只能通过操作按钮改变（{actions}）",
    "en": "the state changes only through an action ({actions}), not by editing",
}
NOT_INITIAL = {"zh": "新记录的状态必须是初始状态“{initial}”", "en": "a new record starts in the state '{initial}'"}


class ActionRefused(Conflict):
    code = "action_refused"


class ActionForbidden(Forbidden):
    code = "action_forbidden"


@dataclass
class AvailableAction:
    id: str
    label: str
    to: str
    enabled: bool
    reason: str | None
    form: str | None
    confirm: bool
    style: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def machine_for(app: Any, entity: str) -> dict[str, Any] | None:
    for doc in app.registry.extras("state_machine").values():
        if doc.get("entity") == entity:
            return doc
    return None


def transition(machine: dict[str, Any], action: str) -> dict[str, Any]:
    for t in machine["transitions"]:
        if t["id"] == action:
            return t
    known = ", ".join(t["id"] for t in machine["transitions"])
    raise NotFound(f"no action '{action}' on {machine['entity']} (actions: {known})")


def state_label(machine: dict[str, Any], value: Any, lang: str) -> str:
    for s in machine["states"]:
        if s["value"] == value:
            return label_text(s.get("label"), lang) or str(value)
    return str(value)


def _roles(app: Any, ctx: Context) -> frozenset[str] | None:
    """The user's roles, or None for an unrestricted subject (administrator, platform)."""
    subject = app.permissions.subject(ctx)
    if getattr(subject, "unrestricted", False) or getattr(subject, "is_admin", False):
        return None
    return frozenset(subject.roles or ())


def refusal(
    app: Any,
    machine: dict[str, Any],
    t: dict[str, Any],
    record: dict[str, Any],
    ctx: Context,
    input: dict[str, Any] | None = None,
) -> tuple[str, str] | None:  # noqa: A002
    """Why this user may not perform ``t`` now: ('state'|'role'|'guard', message), or None."""
    lang = ctx.lang
    state = record.get(machine["field"])
    if "*" not in t["from"] and state not in t["from"]:
        here = state_label(machine, state, lang)
        if lang == "zh":
            return "state", f"当前状态“{here}”下不能执行“{label_text(t['label'], lang)}”"
        return "state", f"'{label_text(t['label'], lang)}' is not possible in the state '{here}'"
    if t.get("roles"):
        roles = _roles(app, ctx)
        if roles is not None and not roles & set(t["roles"]):
            names = ", ".join(t["roles"])
            return "role", (
                f"只有以下角色可以执行：{names}" if lang == "zh" else f"only these roles may do this: {names}"
            )
    if t.get("guard"):
        names = variables(record, input=input)
        if not compile_expression(t["guard"]).evaluate(names, clock=app.clock):
            message = label_text(t.get("guard_message"), lang)
            if not message:
                message = f"条件不满足：{t['guard']}" if lang == "zh" else f"the condition is not met: {t['guard']}"
            return "guard", message
    return None


def available(app: Any, entity: str, record: dict[str, Any], ctx: Context) -> list[AvailableAction]:
    """The actions of the record's current state, with the reason when this user cannot perform one."""
    machine = machine_for(app, entity)
    if machine is None:
        return []
    out = []
    state = record.get(machine["field"])
    for t in machine["transitions"]:
        if "*" not in t["from"] and state not in t["from"]:
            continue
        try:
            why = refusal(app, machine, t, record, ctx)
        except Exception as exc:  # noqa: BLE001 - a guard that fails to evaluate disables the button
            why = ("guard", str(exc))
        out.append(
            AvailableAction(
                t["id"],
                label_text(t["label"], ctx.lang),
                t["to"],
                why is None,
                None if why is None else why[1],
                t.get("form"),
                bool(t.get("confirm")),
                t.get("style", "secondary"),
            )
        )
    return out


def perform(
    app: Any,
    entity: str,
    record_id: int,
    action: str,
    input: dict[str, Any] | None,
    ctx: Context,  # noqa: A002
    *,
    expected_version: int | None = None,
) -> dict[str, Any]:
    machine = machine_for(app, entity)
    if machine is None:
        raise NotFound(f"the entity '{entity}' has no actions (no state machine)")
    t = transition(machine, action)
    if input is None:
        input = {}  # noqa: A001
    if not isinstance(input, dict):
        raise BadRequest("'input' must be a JSON object of the action form's fields")
    allowed = set(app.registry.form(t["form"]).field_names) if t.get("form") else set()
    extra = sorted(set(input) - allowed)
    if extra:
        where = f"the form '{t['form']}'" if t.get("form") else "this action (it has no input form)"
        raise RecordInvalid([FieldError(name, f"not a field of {where}", "unknown_field") for name in extra])
    prepare(app, t.get("effects") or [])
    with app.db.write() as conn, joined_transaction(conn):
        record = app.records.get(entity, record_id, ctx)
        why = refusal(app, machine, t, record, ctx, input)
        if why is not None:
            raise (ActionForbidden if why[0] == "role" else ActionRefused)(why[1])
        names = variables(record, input=input)
        clock = FixedClock(app.clock.now())
        data = {**input}
        for name, source in (t.get("set") or {}).items():
            data[name] = json_value(compile_expression(source).evaluate(names, clock=clock))
        data[machine["field"]] = t["to"]
        token = _PERFORMING.set((entity, record_id))
        try:
            updated = app.records.update(
                entity, record_id, data, ctx, expected_version=expected_version, form_id=t.get("form")
            )
        finally:
            _PERFORMING.reset(token)
        if t.get("effects"):
            key = f"action:{entity}:{record_id}:v{updated['version']}:{t['id']}"
            env = ActionEnv(
                app,
                conn,
                f"{machine['id']}.{t['id']}",
                key,
                entity,
                updated,
                variables(updated, input=input),
                app.clock.now(),
            )
            run_actions(env, t["effects"])
            updated = app.records.get(entity, record_id, ctx)
    return updated


def install_state_machines(app: Any) -> None:
    app.hooks.before_write.append(lambda event: guard_state_field(app, event))


def guard_state_field(app: Any, event: WriteEvent) -> None:
    """Refuse direct edits of the state field; a new record starts in the initial state."""
    if event.action == "delete":
        return
    machine = machine_for(app, event.entity.id)
    if machine is None:
        return
    name, lang = machine["field"], ("zh" if event.ctx.lang == "zh" else "en")
    after = event.after if event.after is not None else {}
    if event.action == "create":
        value = after.get(name)
        if value in (None, ""):
            after[name] = machine["initial"]
        elif value != machine["initial"] and event.ctx.channel != "system":
            raise RecordInvalid(
                [FieldError(name, NOT_INITIAL[lang].format(initial=machine["initial"]), "state_initial")]
            )
        return
    if after.get(name) == (event.before or {}).get(name):
        return
    if _PERFORMING.get() == (event.entity.id, event.record_id) or event.ctx.channel == "system":
        return
    actions = ", ".join(label_text(t["label"], lang) for t in machine["transitions"])
    raise RecordInvalid([FieldError(name, DIRECT_EDIT[lang].format(actions=actions), "state_via_action")])
