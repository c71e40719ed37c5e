"""Shared pieces of the task and workflow pages: the host, labels in the user's language, people's names,
linked records' titles and the due/overdue marks.

The BPMN files name processes, steps and outcomes in English ids; the UI catalogue (ui/messages/tasks.py)
holds their Chinese and English labels, falling back to the BPMN name for a process nobody translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request

from runtime.api.deps import tessera as get_tessera
from runtime.errors import Forbidden, NotFound
from runtime.identity.users import User
from runtime.records import Context
from runtime.records.titles import record_title
from runtime.services import Tessera
from runtime.workflows.assignment import MANAGER_ROLE
from runtime.workflows.host import start_properties
from ui.directory import user_names
from ui.formatting import local_datetime_text
from ui.i18n import MESSAGES, t
from ui.session import require_user, ui_context

DUE_SOON = timedelta(hours=24)
"""A task due within this time is marked "due soon" (amber); past its due time it is overdue (red)."""


@dataclass
class Page:
    """Who asks and with what: the signed-in user, the records context and the container."""

    request: Request
    user: User
    ctx: Context
    app: Tessera

    @property
    def lang(self) -> str:
        return self.ctx.lang

    @property
    def host(self) -> Any:
        return self.app.workflows

    def t(self, key: str, **kw: Any) -> str:
        return t(self.lang, key, **kw)


def page(request: Request) -> Page:
    user = require_user(request)
    return Page(request, user, ui_context(request, user), get_tessera(request))


def _known(key: str) -> bool:
    return key in MESSAGES


def process_label(lang: str, process_id: str, fallback: str | None = None) -> str:
    key = f"wf.process.{process_id}"
    return t(lang, key) if _known(key) else (fallback or process_id)


def task_label(lang: str, process_id: str | None, element_id: str, name: str | None) -> str:
    for key in (f"wf.task.{process_id}.{element_id}", f"wf.task.{element_id}"):
        if _known(key):
            return t(lang, key)
    return name or element_id


def element_label(lang: str, process_id: str, element_id: str) -> str | None:
    """A BPMN element's label in ``lang`` from the catalogue (``wf.el.*``, user tasks ``wf.task.*``), or None."""
    for key in (f"wf.el.{process_id}.{element_id}", f"wf.task.{process_id}.{element_id}", f"wf.task.{element_id}"):
        if _known(key):
            return t(lang, key)
    return None


BPMN_NAMED = ("lane", "startEvent", "endEvent", "userTask", "serviceTask", "scriptTask", "task", "subProcess",
              "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "boundaryEvent",
              "intermediateCatchEvent", "intermediateThrowEvent", "sequenceFlow", "callActivity", "sendTask",
              "receiveTask", "manualTask", "businessRuleTask")  # fmt: skip


def localise_bpmn(xml: str, process_id: str, lang: str) -> str:
    """The diagram's XML with element names in the user's language (ids stay English; names the catalogue does
    not know stay as written). bpmn-js draws the ``name`` attributes, so this is all a zh diagram needs."""
    from lxml import etree

    try:
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return xml
    changed = False
    for el in root.iter():
        if not isinstance(el.tag, str) or not el.get("id"):
            continue
        kind = etree.QName(el).localname
        if kind == "participant" and el.get("processRef") and _known(f"wf.process.{el.get('processRef')}"):
            label: str | None = t(lang, f"wf.process.{el.get('processRef')}")
        elif kind == "process" and _known(f"wf.process.{el.get('id')}"):
            label = t(lang, f"wf.process.{el.get('id')}")
        elif kind in BPMN_NAMED:
            label = element_label(lang, process_id, el.get("id"))
        else:
            continue
        if label is not None and el.get("name") is not None:
            el.set("name", label)
            changed = True
    return etree.tostring(root, encoding="unicode") if changed else xml


def outcome_label(lang: str, outcome: str | None) -> str:
    if not outcome:
        return ""
    key = f"wf.outcome.{outcome}"
    return t(lang, key) if _known(key) else outcome


def status_label(lang: str, status: str) -> str:
    key = f"wf.status.{status}"
    return t(lang, key) if _known(key) else status


def role_label(app: Tessera, lang: str, role_id: str | None) -> str:
    role = app.registry.roles.get(role_id) if role_id else None
    return role.label_in(lang) if role is not None else (role_id or "")


def local_time(value: str | None) -> str:
    return local_datetime_text(value) if value else ""


def due_mark(task: dict[str, Any], now: datetime) -> str | None:
    """'overdue', 'soon' or None for an open task with a due time (UTC ISO text from the host)."""
    if not task.get("due_at") or task.get("status") not in ("ready", "claimed"):
        return None
    if task.get("overdue"):
        return "overdue"
    due = datetime.fromisoformat(task["due_at"])
    return "soon" if due - now <= DUE_SOON else None


def names(app: Tessera, ids: list[Any]) -> dict[int, str]:
    return user_names(app, [i for i in ids if isinstance(i, int)])


class RecordTitles:
    """Titles of linked records as this user may see them (None: not allowed or gone), looked up once each."""

    def __init__(self, app: Tessera, ctx: Context):
        self.app, self.ctx = app, ctx
        self._seen: dict[tuple[str, int], dict[str, Any] | None] = {}

    def link(self, entity: str | None, record_id: int | None) -> dict[str, Any] | None:
        if not entity or record_id is None:
            return None
        key = (entity, record_id)
        if key not in self._seen:
            self._seen[key] = self._lookup(entity, record_id)
        return self._seen[key]

    def _lookup(self, entity_id: str, record_id: int) -> dict[str, Any] | None:
        entity = self.app.registry.entities.get(entity_id)
        if entity is None:
            return None
        try:
            record = self.app.records.get(entity_id, record_id, self.ctx)
        except (NotFound, Forbidden):
            return {"title": f"#{record_id}", "href": None, "entity": entity.label_in(self.ctx.lang)}
        title = record_title(self.app, entity, record, self.ctx)
        return {"title": title, "href": f"/r/{entity_id}/{record_id}", "entity": entity.label_in(self.ctx.lang)}


def may_reassign(p: Page) -> bool:
    """The host lets managers and administrators reassign; the page offers it only to them."""
    return p.ctx.is_admin or MANAGER_ROLE in p.app.permissions.subject(p.ctx).roles


def processes(app: Tessera, lang: str, ctx: Context | None = None) -> list[dict[str, Any]]:
    """The deployed processes (newest versions) with their label and the properties of their start event:
    ``entity`` (the records the process is started from) and ``form`` (its start form); with ``ctx`` also
    ``may_start`` (the host's rule: administrators, or a role named in ``starter_roles``)."""
    out = []
    host = app.workflows
    for row in host.spec_rows():
        parsed = host.specs.parsed(row)
        props = start_properties(parsed.spec)
        out.append(
            {
                "id": row.process_id,
                "label": process_label(lang, row.process_id, parsed.spec.description),
                "version": row.version,
                "entity": props.get("entity"),
                "form": props.get("form"),
                "may_start": host._may_start(parsed, ctx) if ctx is not None else None,
            }
        )
    return sorted(out, key=lambda p: p["label"])


def process(app: Tessera, lang: str, process_id: str, ctx: Context | None = None) -> dict[str, Any]:
    found = next((p for p in processes(app, lang, ctx) if p["id"] == process_id), None)
    if found is None:
        raise NotFound(f"no workflow process '{process_id}'")
    return found
