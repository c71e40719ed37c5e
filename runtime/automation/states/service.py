"""Performing record actions (PL-08).

An action is a named transition of an entity's state machine. ``perform`` checks, in this order, the
current state, the user's roles, the guard, then writes the new state, the transition's ``set`` values
and the input form's values through the records service (validation, permissions, audit) in one
transaction with the effects that write records; notifications and webhooks leave as deferred jobs.
The state field cannot be edited directly by people (before_write hook) - only by an action, or on create
where it starts at the machine's initial state. Automation may set it: rules, workflow steps and the system
(e.g. a contract-signing process marks its contract active, a nightly rule marks contracts expired), the same
channels that may write read-only fields.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass
from typing import Any

from runtime.automation.rules.actions import ActionEnv, json_value, prepare, run_actions
from runtime.automation.rules.model import variables
from runtime.automation.states import background
from runtime.blueprints.model import label_text
from runtime.clock import FixedClock
from runtime.errors import BadRequest, Conflict, Forbidden, NotFound, RecordInvalid
from runtime.expressions import compile_expression
from runtime.permissions.enforce import SET_BY_ACTION
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
    to: str | None
    enabled: bool
    reason: str | None
    form: str | None
    confirm: bool
    style: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


KEEP = "*"
"""A transition whose ``to`` is "*" (or missing) keeps the current state: an action such as "plan a visit"."""


def keeps_state(t: dict[str, Any]) -> bool:
    return t.get("to", KEEP) == KEEP


def machine_for(app: Any, entity: str) -> dict[str, Any] | None:
    """The entity's actions: its state machine (the document with a ``field``), plus the transitions of
    state-less action documents of the same entity (no ``field``: actions that keep the state), so a pack can
    add actions to an entity whose states another file owns, or to an entity without states."""
    docs = [d for d in app.registry.extras("state_machine").values() if d.get("entity") == entity]
    if not docs:
        return None
    stateful = next((d for d in docs if d.get("field")), None)
    extra = [t for d in docs if not d.get("field") for t in d["transitions"]]
    if stateful is not None and not extra:
        return stateful
    base = stateful or {"id": docs[0]["id"], "entity": entity, "field": None, "states": [], "initial": None}
    return {**base, "transitions": [*(stateful or {}).get("transitions", []), *extra]}


def transition(machine: dict[str, Any], action: str) -> dict[str, Any]:
    for t in machine["transitions"]:
        if t["id"] == action:
            return t
    known = ", ".join(t["id"] for t in machine["transitions"])
    raise NotFound(f"no action '{action}' on {machine['entity']} (actions: {known})")


def state_label(machine: dict[str, Any] | None, value: Any, lang: str) -> str:
    if machine is None or value is None:
        return "" if value is None else str(value)
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
    state = record.get(machine["field"]) if machine["field"] else None
    if "*" not in t.get("from", ["*"]) and state not in t["from"]:
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
        names = variables(record, input=input, **_typing(app, machine, t))
        if not compile_expression(t["guard"]).evaluate(names, clock=app.clock):
            message = label_text(t.get("guard_message"), lang)
            if not message:
                message = f"条件不满足：{t['guard']}" if lang == "zh" else f"the condition is not met: {t['guard']}"
            return "guard", message
    return None


def refuse_unless_allowed(
    app: Any,
    machine: dict[str, Any],
    t: dict[str, Any],
    record: dict[str, Any],
    ctx: Context,
    input: dict,  # noqa: A002
) -> None:
    """Raise the refusal of ``refusal`` (403 for a role, 409 for a state or guard), if there is one."""
    why = refusal(app, machine, t, record, ctx, input)
    if why is not None:
        raise (ActionForbidden if why[0] == "role" else ActionRefused)(why[1])


def _typing(app: Any, machine: dict[str, Any], t: dict[str, Any]) -> dict[str, Any]:
    """The entities whose field types the guard, set and effects see the record and the input form with."""
    entity = app.registry.entity(machine["entity"])
    form = app.registry.forms.get(t["form"]) if t.get("form") else None
    other = app.registry.entity(form.entity) if form is not None and form.entity != entity.id else None
    return {"entity": entity, "input_entity": other}


def available(app: Any, entity: str, record: dict[str, Any], ctx: Context) -> list[AvailableAction]:
    """The actions of the record's current state, with the reason when this user cannot perform one."""
    machine = machine_for(app, entity)
    if machine is None:
        return []
    out = []
    state = record.get(machine["field"]) if machine["field"] else None
    for t in machine["transitions"]:
        if "*" not in t.get("from", ["*"]) and state not in t["from"]:
            continue
        try:
            why = refusal(app, machine, t, record, ctx)
        except Exception as exc:  # noqa: BLE001 - a guard that fails to evaluate disables the button
            why = ("guard", str(exc))
        out.append(
            AvailableAction(
                t["id"],
                label_text(t["label"], ctx.lang),
                state if keeps_state(t) else t["to"],
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
    if t.get("pool"):
        return _pool_operation(app, machine, t, entity, record_id, input, ctx)
    # an input form of another entity (a follow-up record asked by the lead's "follow up"): its values are
    # only the action's input (for set and effects), not fields of this record
    own_form = not t.get("form") or app.registry.form(t["form"]).entity == entity
    asked = input
    if not own_form:
        input = _foreign_input(app, t["form"], input)  # noqa: A001
    prepare(app, t.get("effects") or [])
    if background.runs_in_background(t):
        record = app.records.get(entity, record_id, ctx)
        refuse_unless_allowed(app, machine, t, record, ctx, input)
        return background.queue(app, entity, record, t, asked, ctx)  # the job expands the input again
    with app.db.write() as conn, joined_transaction(conn):
        record = app.records.get(entity, record_id, ctx)
        refuse_unless_allowed(app, machine, t, record, ctx, input)
        names = variables(record, input=input, **_typing(app, machine, t))
        clock = FixedClock(app.clock.now())
        data = {**input} if own_form else {}
        for name, source in (t.get("set") or {}).items():
            data[name] = json_value(compile_expression(source).evaluate(names, clock=clock))
        if not keeps_state(t) and machine["field"]:
            data[machine["field"]] = t["to"]
        token = _PERFORMING.set((entity, record_id))
        own = frozenset(t.get("set") or ()) | ({machine["field"]} if machine["field"] else frozenset())
        own_token = SET_BY_ACTION.set((entity, record_id, own))
        try:
            updated = app.records.update(
                entity,
                record_id,
                data,
                ctx,
                expected_version=expected_version,
                form_id=t.get("form") if own_form else None,
            )
        finally:
            SET_BY_ACTION.reset(own_token)
            _PERFORMING.reset(token)
        if t.get("effects"):
            key = f"action:{entity}:{record_id}:v{updated['version']}:{t['id']}"
            if keeps_state(t):  # may run again on the same version: each run is its own
                key += ":" + uuid.uuid4().hex[:12]
            env = ActionEnv(
                app,
                conn,
                f"{machine['id']}.{t['id']}",
                key,
                entity,
                updated,
                variables(updated, input=input, **_typing(app, machine, t)),
                app.clock.now(),
                lang=ctx.lang,
            )
            run_actions(env, t["effects"])
            updated = app.records.get(entity, record_id, ctx)
    return updated


def _foreign_input(app: Any, form_id: str, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    """Every field of another entity's input form by name (so set and effects can name any of them): the
    value sent, else the field's default (a follow-up dated today), else None."""
    from runtime.records import logic

    form = app.registry.form(form_id)
    defaults = logic.apply_defaults(app.registry.entity(form.entity), {}, app.clock)
    return {name: input.get(name, defaults.get(name)) for name in form.field_names} | input


def _pool_operation(
    app: Any,
    machine: dict[str, Any],
    t: dict[str, Any],
    entity: str,
    record_id: int,
    input: dict[str, Any],  # noqa: A002
    ctx: Context,
) -> dict[str, Any]:
    """A transition that is a pool operation (``"pool": {"id", "operation"}``): the state, role and guard
    checks of the action, then the pool's own rules (claim caps, holding caps, protection) and its write,
    so the lifecycle and the pool page cannot disagree. ``assign`` takes the user from the input form's
    owner field (none: the pool's assignment spec picks)."""
    spec = t["pool"]
    pool = app.pools.get(spec["id"])
    record = app.records.get(entity, record_id, ctx)
    refuse_unless_allowed(app, machine, t, record, ctx, input)
    operation = spec["operation"]
    if operation == "assign":
        user_id = input.get(pool["owner_field"])
        if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int)):
            raise RecordInvalid([FieldError(pool["owner_field"], "must be a user id", "type")])
        app.pools.assign(pool["id"], record_id, ctx, user_id)
    else:
        getattr(app.pools, operation)(pool["id"], record_id, ctx)
    return app.records.get(entity, record_id, ctx)


def install_state_machines(app: Any) -> None:
    app.hooks.before_write.append(lambda event: guard_state_field(app, event))
    background.install(app)


def guard_state_field(app: Any, event: WriteEvent) -> None:
    """Refuse direct edits of the state field; a new record starts in the initial state."""
    if event.action == "delete":
        return
    machine = machine_for(app, event.entity.id)
    if machine is None or not machine["field"]:
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
    if _PERFORMING.get() == (event.entity.id, event.record_id) or event.ctx.may_write_read_only:
        return  # an action, or automation (rule, workflow, system)
    actions = ", ".join(label_text(t["label"], lang) for t in machine["transitions"])
    raise RecordInvalid([FieldError(name, DIRECT_EDIT[lang].format(actions=actions), "state_via_action")])
