"""BPMN specs: parse with the Spiff extensions, check every expression with the sandbox, store once per hash.

A spec row holds one process of one BPMN file (the whole file's XML, so call activities and messages
resolve). A changed file for the same process id becomes the next version; unchanged content is
found again by its sha256, never stored twice. Running instances keep the spec row they started on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from sqlalchemy.engine import Connection

from runtime.expressions import ExpressionError, compile_expression
from runtime.storage import platform_tables as pt
from runtime.workflows.assignment import parse_duration
from runtime.workflows.engine import script_assignments
from runtime.workflows.errors import SpecInvalid

REPO_WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
EXPRESSION_PROPERTIES = ("assignee",)
_LATEST_ID = (
    sa.select(pt.wf_specs.c.id, pt.wf_specs.c.version)
    .where(pt.wf_specs.c.process_id == sa.bindparam("b_process"))
    .order_by(pt.wf_specs.c.version.desc())
    .limit(1)
)  # built once: its compiled form is cached, a new statement per call costs more than the query
_NEWEST_VERSION = sa.select(sa.func.max(pt.wf_specs.c.version)).where(
    pt.wf_specs.c.process_id == sa.bindparam("b_process")
)


@dataclass(frozen=True)
class Parsed:
    """One parsed process and the specs of its subprocesses / call activities."""

    process_id: str
    spec: BpmnProcessSpec
    subprocesses: dict[str, BpmnProcessSpec]


@dataclass(frozen=True)
class SpecRow:
    id: int
    process_id: str
    version: int
    sha256: str
    source: str
    bpmn: str


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_bpmn(xml: str, source: str) -> dict[str, Parsed]:
    """Every executable process of a BPMN file; raises SpecInvalid naming the file, element and problem."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(etree.fromstring(xml.encode("utf-8")), filename=source)
        out = {}
        for process_id in parser.get_process_ids():
            spec = parser.get_spec(process_id)
            out[process_id] = Parsed(process_id, spec, parser.get_subprocess_specs(process_id))
    except etree.XMLSyntaxError as exc:
        raise SpecInvalid(source, None, f"not well-formed XML: {exc.msg}", exc.lineno) from None
    except ValidationException as exc:
        raise SpecInvalid(source, exc.id or None, exc.message or str(exc), exc.line_number or None) from None
    except Exception as exc:  # SpiffWorkflow raises plain exceptions for some structural problems
        raise SpecInvalid(source, None, f"cannot be parsed: {exc}") from None
    for parsed in out.values():
        for spec in [parsed.spec, *parsed.subprocesses.values()]:
            check_expressions(spec, source, parsed.process_id)
    return out


def _expressions(task_spec: Any) -> list[tuple[str, str]]:
    """(what, source) of every expression a task spec holds."""
    found: list[tuple[str, str]] = []
    for condition, _target in getattr(task_spec, "cond_task_specs", []) or []:
        if condition is not None and getattr(condition, "args", None):
            found.append(("condition", condition.args[0]))
    for attr in ("condition", "cardinality", "data_input", "data_output"):
        value = getattr(task_spec, attr, None)
        if isinstance(value, str):
            found.append((attr, value))
    event = getattr(task_spec, "event_definition", None)
    if event is not None and isinstance(getattr(event, "expression", None), str):
        found.append(("event expression", event.expression))
    for name, param in (getattr(task_spec, "operation_params", None) or {}).items():
        found.append((f"parameter '{name}'", param["value"]))
    props = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
    for name in EXPRESSION_PROPERTIES:
        if props.get(name):
            found.append((f"property '{name}'", props[name]))
    return found


def check_expressions(spec: BpmnProcessSpec, source: str, process_id: str) -> None:
    """Refuse a spec whose conditions, parameters or scripts the sandbox would refuse (before anything runs)."""
    for task_spec in spec.task_specs.values():
        element = getattr(task_spec, "bpmn_id", None) or task_spec.name
        for what, text in _expressions(task_spec):
            try:
                compile_expression(text)
            except ExpressionError as exc:
                raise SpecInvalid(
                    source,
                    element,
                    f"process '{process_id}', element '{element}': the {what} '{text}' is refused: {exc}",
                ) from None
        due = (getattr(task_spec, "extensions", None) or {}).get("properties", {}).get("due")
        if due:
            try:
                parse_duration(due)
            except ValueError as exc:
                raise SpecInvalid(source, element, f"process '{process_id}', element '{element}': {exc}") from None
        for attr in ("script", "prescript", "postscript"):
            script = getattr(task_spec, attr, None)
            if isinstance(script, str) and script.strip():
                try:
                    script_assignments(script)
                except ExpressionError as exc:
                    raise SpecInvalid(
                        source, element, f"process '{process_id}', element '{element}': the script is refused: {exc}"
                    ) from None


@lru_cache(maxsize=256)
def parsed_from_row(spec_id: int, process_id: str, source: str, xml: str) -> Parsed:
    """Parsing is the costly part of loading an instance; a stored spec never changes, so cache it by id."""
    return parse_bpmn(xml, source)[process_id]


class SpecStore:
    """The wf_specs table: register BPMN files, find versions."""

    def __init__(self) -> None:
        self._versions: dict[int, int] = {}
        self._parsed: dict[int, Parsed] = {}
        self._latest: dict[str, tuple[int, int]] = {}
        """process id -> (spec id, version) of its newest version as last seen; may be stale (another worker
        registered a newer one): a start that uses it checks the newest version in its own insert."""

    def register(self, conn: Connection, xml: str, source: str, now: datetime) -> list[SpecRow]:
        """Store each process of the file unless the same content is already stored; returns the rows."""
        processes = parse_bpmn(xml, source)
        digest = sha256(xml)
        for process_id in processes:
            self._latest.pop(process_id, None)
        rows = []
        t = pt.wf_specs
        for process_id in processes:
            found = conn.execute(sa.select(t).where(t.c.process_id == process_id, t.c.sha256 == digest)).first()
            if found is None:
                latest = conn.execute(sa.select(sa.func.max(t.c.version)).where(t.c.process_id == process_id))
                version = (latest.scalar() or 0) + 1
                values = {
                    "process_id": process_id,
                    "version": version,
                    "sha256": digest,
                    "source": source,
                    "bpmn": xml,
                    "created_at": now,
                }
                new_id = conn.execute(sa.insert(t).values(**values)).inserted_primary_key[0]
                found = conn.execute(sa.select(t).where(t.c.id == new_id)).first()
            rows.append(_row(found))
        return rows

    def latest_id(self, conn: Connection, process_id: str) -> int | None:
        """The newest version's id, without reading its XML (parsed specs are cached by id)."""
        row = conn.execute(_LATEST_ID, {"b_process": process_id}).first()
        if row is None:
            return None
        self._latest[process_id] = (row.id, row.version)
        self._versions[row.id] = row.version
        return row.id

    def newest_version(self, conn: Connection, process_id: str) -> int | None:
        return conn.execute(_NEWEST_VERSION, {"b_process": process_id}).scalar()

    def cached_latest(self, process_id: str) -> tuple[int, int] | None:
        """(spec id, version) of the newest version as last looked up here, or None; possibly stale."""
        return self._latest.get(process_id)

    def forget_latest(self, process_id: str) -> None:
        self._latest.pop(process_id, None)

    def version_of(self, conn: Connection, spec_id: int) -> int:
        """A spec row never changes, so its version number is cached."""
        found = self._versions.get(spec_id)
        if found is None:
            found = self._versions[spec_id] = self.by_id(conn, spec_id).version
        return found

    def parsed_by_id(self, conn: Connection, spec_id: int) -> Parsed:
        """The parsed spec (cached); the row is read only when the cache misses."""
        cached = self._parsed.get(spec_id)
        if cached is None:
            row = self.by_id(conn, spec_id)
            cached = self._parsed[spec_id] = self.parsed(row)
            self._versions[spec_id] = row.version
        return cached

    def latest(self, conn: Connection, process_id: str) -> SpecRow | None:
        t = pt.wf_specs
        row = conn.execute(
            sa.select(t).where(t.c.process_id == process_id).order_by(t.c.version.desc()).limit(1)
        ).first()
        return _row(row) if row else None

    def version(self, conn: Connection, process_id: str, version: int) -> SpecRow | None:
        t = pt.wf_specs
        row = conn.execute(sa.select(t).where(t.c.process_id == process_id, t.c.version == version)).first()
        return _row(row) if row else None

    def by_id(self, conn: Connection, spec_id: int) -> SpecRow:
        row = conn.execute(sa.select(pt.wf_specs).where(pt.wf_specs.c.id == spec_id)).first()
        if row is None:
            raise LookupError(f"workflow spec #{spec_id} is missing")
        return _row(row)

    def all_latest(self, conn: Connection) -> list[SpecRow]:
        t = pt.wf_specs
        newest = sa.select(t.c.process_id, sa.func.max(t.c.version).label("v")).group_by(t.c.process_id).subquery()
        q = sa.select(t).join(newest, sa.and_(t.c.process_id == newest.c.process_id, t.c.version == newest.c.v))
        return [_row(r) for r in conn.execute(q)]

    @staticmethod
    def parsed(row: SpecRow) -> Parsed:
        return parsed_from_row(row.id, row.process_id, row.source, row.bpmn)


def _row(row: Any) -> SpecRow:
    return SpecRow(row.id, row.process_id, row.version, row.sha256, row.source, row.bpmn)


def bpmn_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.bpmn")) if folder.is_dir() else []
