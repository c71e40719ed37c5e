"""Rule actions (PL-09), shared by rules and state-machine effects: set fields, create records, create
tasks, notify, start a workflow, call a webhook. Every action runs in the caller's transaction (records
through the joined records service), so the actions of one rule run commit or roll back together;
outside effects (email, SMS, webhooks) are deferred as jobs that exist only if that transaction commits."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.automation.rules.model import parse_duration, typed
from runtime.automation.rules.templating import render
from runtime.automation.rules.webhooks import render_body, seal_body
from runtime.blueprints.model import label_text
from runtime.clock import FixedClock
from runtime.errors import BadRequest, Conflict, NotFound
from runtime.expressions import compile_expression
from runtime.notify.contacts import Contact, ContactResolver
from runtime.records.context import Context
from runtime.records.service import joined_transaction
from runtime.storage import platform_tables as pt

log = logging.getLogger("tessera.rules")
RULE_CTX = Context(channel="rule", lang="en")
"""Rules act as the platform: permissions-as-system, the audit trail says channel 'rule'."""
WEBHOOK_TASK = "rules.webhook"
LOOKUP_NAME = "found"
"""The name a looked-up record is bound to when the lookup gives no ``as``."""
LOOKUP_LIMIT = 1000
FOR_EACH_LIMIT = 20000
"""The most records one for_each action runs for (a campaign audience), in one transaction."""


class LookupMissing(Conflict):
    """An interactive action's lookup (``if_none: error``) found nothing: the user is told why."""

    code = "lookup_no_match"


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
    lang: str = "en"
    """The language of messages for the person who performed an interactive action."""
    skipped: list[str] = field(default_factory=list)
    """Actions skipped because their lookup matched nothing (logged with the run)."""

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
            when = compile_expression(action["when"]) if action.get("when") else None
            # a "when" reading a looked-up record (p["his_patient_id"] is not None) is checked after the lookup
            late = (
                when is not None
                and not action.get("for_each")
                and bool(when.names & {s.get("as", LOOKUP_NAME) for s in lookups_of(action)})
            )
            if when is not None and not late and not when.evaluate(env.variables, clock=FixedClock(env.now)):
                continue  # the action's own condition ("when") is false: skipped
            if action.get("for_each"):
                for_each(env, action, index, handler)
                continue
            if action.get("lookup"):
                names = with_lookups(env, action, index)
                if names is None:
                    continue
                try:
                    if late and not when.evaluate(env.variables, clock=FixedClock(env.now)):
                        continue
                    handler(env, action, f"{env.key}:{index}")
                finally:
                    for name in names:
                        env.variables.pop(name, None)
                continue
            handler(env, action, f"{env.key}:{index}")


def for_each(env: ActionEnv, action: dict[str, Any], index: int, handler: Any) -> None:
    """Run one action once per record of a segment (a campaign's audience): each record is bound to
    ``as`` (default 'item') and may be narrowed by ``where``; each run has its own key (key:index:record id),
    so an upsert keyed on the record makes sending twice create nothing twice. At most FOR_EACH_LIMIT records."""
    spec = action["for_each"]
    name = spec.get("as", "item")
    where = compile_expression(spec["where"]) if spec.get("where") else None
    clock = FixedClock(env.now)
    single = {k: v for k, v in action.items() if k != "for_each"}
    count = 0
    for item in segment_items(env, spec):
        env.variables[name] = item
        try:
            if where is not None and not where.evaluate(env.variables, clock=clock):
                continue
            count += 1
            if count > FOR_EACH_LIMIT:
                raise BadRequest(f"for_each: more than {FOR_EACH_LIMIT} records; narrow the segment")
            if single.get("lookup"):
                names = with_lookups(env, single, index)
                if names is None:
                    continue
                try:
                    handler(env, single, f"{env.key}:{index}:{item.get('id')}")
                finally:
                    for bound in names:
                        env.variables.pop(bound, None)
                continue
            handler(env, single, f"{env.key}:{index}:{item.get('id')}")
        finally:
            env.variables.pop(name, None)


def segment_items(env: ActionEnv, spec: dict[str, Any]) -> Any:
    """The records of the segment whose id the expression ``segment`` gives, read as the platform, page by page."""
    from runtime.segments.service import SegmentService

    segment_id = env.value(spec["segment"])
    if not isinstance(segment_id, str) or not segment_id:
        raise BadRequest(f"for_each: 'segment' must give a segment id, got {segment_id!r}")
    service = SegmentService(env.app)
    segment = next((s for s in service.visible(RULE_CTX) if s.id == segment_id), None)
    if segment is None:
        raise BadRequest(f"for_each: unknown segment '{segment_id[:100]}'")
    target = env.app.registry.entity(segment.entity)
    cursor = None
    with joined_transaction(env.conn):
        while True:
            page = env.app.records.list(
                segment.entity, service.query(segment, limit=200, cursor=cursor, count="none"), RULE_CTX
            )
            for item in page.items:
                yield typed(target, item)
            cursor = page.next_cursor
            if not cursor or not page.items:
                return


def lookups_of(action: dict[str, Any]) -> list[dict[str, Any]]:
    """An action's lookups: one object or a list (later ones may read what earlier ones found)."""
    spec = action.get("lookup")
    return [] if not spec else spec if isinstance(spec, list) else [spec]


def with_lookups(env: ActionEnv, action: dict[str, Any], index: int) -> list[str] | None:
    """Bind the action's looked-up records (decision table); None when one matches nothing: the action is
    skipped (noted in the run log) or, with ``if_none: error``, refused with its message."""
    bound: list[str] = []
    for spec in lookups_of(action):
        found = lookup(env, spec)
        name = spec.get("as", LOOKUP_NAME)
        if found is not None:
            env.variables[name] = found
            bound.append(name)
            continue
        for done in bound:
            env.variables.pop(done, None)
        if spec.get("if_none", "skip") == "error":
            message = label_text(spec.get("none_message"), env.lang)
            raise LookupMissing(message or f"no '{spec['entity']}' record matches: {spec.get('where') or spec['id']}")
        env.skipped.append(f"action {index} ({action['type']}) skipped: no '{spec['entity']}' record matches")
        log.info("rule %s: %s", env.rule_id, env.skipped[-1])
        return None
    return bound


def lookup(env: ActionEnv, spec: dict[str, Any]) -> dict[str, Any] | None:
    """The first record of ``spec.entity`` (in ``order_by`` order) for which ``where`` is true, the candidate
    being bound to ``as`` next to the triggering record's names. Read as the platform, in the run's transaction;
    meant for small reference tables (rule bases), so at most LOOKUP_LIMIT candidates are read."""
    from runtime.records.query import ListQuery

    name = spec.get("as", LOOKUP_NAME)
    target = env.app.registry.entity(spec["entity"])
    if spec.get("id"):  # follow a reference: the record whose id the expression gives
        ident = env.value(spec["id"])
        if not isinstance(ident, int) or isinstance(ident, bool):
            return None
        try:
            with joined_transaction(env.conn):
                return typed(target, env.app.records.get(spec["entity"], ident, RULE_CTX))
        except NotFound:
            return None
    order = spec.get("order_by")
    sort = [(order.lstrip("-"), order.startswith("-"))] if order else []
    where = compile_expression(spec["where"])
    clock = FixedClock(env.now)
    page = env.app.records.list(spec["entity"], ListQuery(sort=sort, limit=LOOKUP_LIMIT, count="none"), RULE_CTX)
    for item in page.items:
        candidate = typed(target, item)
        if where.evaluate({**env.variables, name: candidate}, clock=clock):
            return candidate
    return None


def _set_fields(env: ActionEnv, action: dict[str, Any], key: str) -> None:
    if env.entity is None or env.record_id is None:
        raise BadRequest("set_fields needs a record (a rule with an entity)")
    values = {name: env.value(source) for name, source in (action.get("values") or {}).items()}
    if action.get("assign"):
        from runtime.automation.assignment import assign

        for name, spec in action["assign"].items():  # a user field set by an assignment spec (escalated_to)
            values[name] = assign(env.app, env.conn, spec, env.record, entity=env.entity)
    for name, source in (action.get("departments") or {}).items():
        values[name] = department_by_code(env, env.value(source))
    updated = env.app.records.update(env.entity, env.record_id, values, env.ctx, expected_version=None)
    env.record = updated
    env.variables.update(updated)
    env.variables["record"] = updated


def department_by_code(env: ActionEnv, codes: Any) -> int | None:
    """A department field set from department codes (a routing table in an expression: an opinion goes to
    the ward's department, else the one for its category): the first code that names a department, else None."""
    d = pt.departments.c
    for code in codes if isinstance(codes, list) else [codes]:
        if isinstance(code, str) and code:
            found = env.conn.execute(sa.select(d.id).where(d.code == code).order_by(d.id).limit(1)).scalar()
            if found is not None:
                return int(found)
    return None


def _create_record(env: ActionEnv, action: dict[str, Any], key: str) -> None:
    values = {name: env.value(source) for name, source in action["values"].items()}
    created = env.app.records.create(action["entity"], values, env.ctx, form_id=action.get("form"))
    _link(env, action, created)


def _update_record(env: ActionEnv, action: dict[str, Any], key: str) -> None:
    """Change another record, named by an expression giving its id (a reference field); nothing when None."""
    _write_other(env, action, create=False)


def _upsert_record(env: ActionEnv, action: dict[str, Any], key: str) -> None:
    """Update the record named by ``record`` (an id expression) or else the first one whose ``match`` fields
    equal the given values; create it when there is none (a lead converted into a hospital record)."""
    _write_other(env, action, create=True)


def _write_other(env: ActionEnv, action: dict[str, Any], *, create: bool) -> None:
    from runtime.records.query import Filter, ListQuery

    entity = action["entity"]
    target: dict[str, Any] | None = None
    ident = env.value(action["record"]) if action.get("record") else None
    if ident not in (None, ""):
        if isinstance(ident, bool) or not isinstance(ident, int):
            raise BadRequest(f"{action['type']}: 'record' must give a record id, got {ident!r}")
        target = env.app.records.get(entity, ident, env.ctx)
    matched = {name: env.value(source) for name, source in (action.get("match") or {}).items()}
    if target is None and matched and all(v not in (None, "") for v in matched.values()):
        filters = [Filter(name, "eq", value) for name, value in matched.items()]
        found = env.app.records.list(entity, ListQuery(filters=filters, limit=1, count="none"), env.ctx).items
        target = found[0] if found else None
    if target is None and not create:
        return
    env.variables["target"] = typed(env.app.registry.entity(entity), target) or {}  # dates as dates
    try:
        values = {name: env.value(source) for name, source in action["values"].items()}
    finally:
        env.variables.pop("target", None)
    if target is None:
        written = env.app.records.create(entity, {**matched, **values}, env.ctx, form_id=action.get("form"))
    else:
        written = env.app.records.update(entity, target["id"], values, env.ctx, expected_version=None)
    _link(env, action, written)


def _link(env: ActionEnv, action: dict[str, Any], written: dict[str, Any]) -> None:
    """``link_field``: store the written record's id in a reference field of the acting record, so the
    next actions (and the record) see it."""
    name = action.get("link_field")
    if not name or env.entity is None or env.record_id is None:
        return
    if (env.record or {}).get(name) == written["id"]:
        return
    updated = env.app.records.update(env.entity, env.record_id, {name: written["id"]}, env.ctx, expected_version=None)
    env.record = updated
    env.variables.update(updated)
    env.variables["record"] = updated


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
            value = _field_value(env, spec["field"])
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
            if spec.get("over"):
                departments = _departments_over(env, record.get(spec["over"]), _is_department(env, spec["over"]))
                if departments is not None:
                    q = q.where(pt.users.c.department_id.in_(departments))
            found += list(env.conn.execute(q).scalars())
        elif "user" in spec:
            uid = env.conn.execute(sa.select(pt.users.c.id).where(pt.users.c.username == spec["user"])).scalar()
            if uid is not None:
                found.append(uid)
    return sorted(set(found))


def _field_value(env: ActionEnv, path: str) -> Any:
    """A field of the record, or ``reference.field`` one reference away (the officer who recorded the
    follow-up an opinion came from: ``followup_call.staff``), read as the platform."""
    record = env.record or {}
    head, _, tail = path.partition(".")
    if not tail:
        return record.get(head)
    target_id = record.get(head)
    entity = env.app.registry.entity(env.entity) if env.entity else None
    field = entity.field(head) if entity is not None else None
    if not isinstance(target_id, int) or field is None or field.type != "reference":
        return None
    try:
        with joined_transaction(env.conn):
            return env.app.records.get(field.opt("entity"), target_id, RULE_CTX).get(tail)
    except NotFound:
        return None


def _is_department(env: ActionEnv, name: str) -> bool:
    entity = env.app.registry.entity(env.entity) if env.entity else None
    field = entity.field(name) if entity is not None else None
    return field is not None and field.type == "department"


def _departments_over(env: ActionEnv, user_id: Any, is_department: bool = False) -> list[int] | None:
    """The department of the user a record names and every department above it: a role recipient with
    "over": "liaison" reaches the managers of that liaison's team (and their superiors), not every holder of
    the role. None (no narrowing) when the record names nobody or that user has no department: then the
    notice still reaches the whole role rather than no one."""
    if not isinstance(user_id, int):
        return None
    if is_department:  # "over" a department field: the holders in that department or above it
        return [user_id, *env.app.permissions.subjects.tree().ancestors(user_id)]
    dept = env.conn.execute(sa.select(pt.users.c.department_id).where(pt.users.c.id == user_id)).scalar()
    if dept is None:
        return None
    return [dept, *env.app.permissions.subjects.tree().ancestors(dept)]


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
    for name, spec in (action.get("users") or {}).items():  # e.g. one specialist per requested department
        data[name] = users_per_department(env, spec)
    record = (env.entity, env.record_id) if env.entity and env.record_id else None
    host = env.app.workflows
    # the host's transaction-joining start: the instance exists iff this rule run commits
    host.start_in(
        env.conn, action["process"], data, env.ctx, record=record, correlation_key=key, clock=FixedClock(env.now)
    )


DEPARTMENT_SEPARATORS = re.compile(r"[,，、;；\s]+")


def users_per_department(env: ActionEnv, spec: dict[str, Any]) -> list[int]:
    """``{"role": "doctor", "departments": "<expression>"}``: one active holder of the role (the first by id) in
    each department the expression names (a list, or text separated by commas, 、 or spaces; by code or by name),
    in that order, without repeats: the specialists of an MDT consultation. Departments without a holder are
    left out."""
    from runtime.automation.assignment import role_holders

    value = env.value(spec["departments"])
    names = value if isinstance(value, list) else DEPARTMENT_SEPARATORS.split(str(value or ""))
    d = pt.departments.c
    found: list[int] = []
    for name in [str(n).strip() for n in names if str(n).strip()]:
        dept = env.conn.execute(
            sa.select(d.id).where(sa.or_(d.code == name, d.name == name)).order_by(d.id).limit(1)
        ).scalar()
        holders = role_holders(env.conn, spec["role"], int(dept)) if dept is not None else []
        pick = next((h for h in holders if h not in found), None)
        if pick is not None:
            found.append(pick)
    return found


def _webhook(env: ActionEnv, action: dict[str, Any], key: str) -> None:
    url = action["url"]
    if url.startswith("param:"):
        url = env.app.params.get(url.removeprefix("param:"))
        if url == "":  # the endpoint is not configured (yet): nothing to send, noted in the run log
            env.skipped.append(f"webhook skipped: parameter '{action['url'].removeprefix('param:')}' is not set")
            return
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise BadRequest(f"parameter '{action['url']}' does not hold an http(s) URL")
    body = render_body(action.get("body") or {}, env.value)  # nested JSON: every string an expression
    payload = {
        "url": url,
        "rule": env.rule_id,
        "entity": env.entity,
        "record_id": env.record_id,
        "key": key + ":webhook",
    }
    if action.get("headers"):
        payload["headers"] = dict(action["headers"])  # templates: {param:...} is filled in when sending
    seal_body(payload, body, getattr(env.app, "cipher", None))
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
    "update_record": _update_record,
    "upsert_record": _upsert_record,
    "create_task": _create_task,
    "notify": _notify,
    "start_workflow": _start_workflow,
    "webhook": _webhook,
}
