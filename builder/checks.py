"""Checking draft content with the runtime's own loader: one document, one BPMN file, or the whole pack.

Every problem is a dict {"file", "pointer", "message", "line"} (PackError.as_dict), the shape the
builder's pages and API show next to the field that is wrong.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import Connection

from runtime.blueprints.errors import PackError, PackInvalid
from runtime.blueprints.loader import MANIFEST, MENUS, _schema_errors, kind_of, load_pack_from_documents
from runtime.blueprints.model import Pack
from runtime.storage.deploy import check_compatibility, deployed_packs, known_names
from runtime.workflows.errors import SpecInvalid
from runtime.workflows.specs import parse_bpmn

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")


def check_document_path(rel: str) -> None:
    """A document path is pack.json, menus.json or '<known folder>/<name>.json'; nothing else is stored."""
    if rel in (MANIFEST, MENUS):
        return
    folder, _, name = rel.partition("/")
    if not name or "/" in name or not name.endswith(".json") or not _NAME.match(name) or kind_of(rel) is None:
        hint = "not a pack document path: use pack.json, menus.json or <folder>/<name>.json"
        raise PackInvalid([PackError(rel, "", hint)])


def check_workflow_path(rel: str) -> None:
    folder, _, name = rel.partition("/")
    if folder != "workflows" or "/" in name or not name.endswith(".bpmn") or not _NAME.match(name):
        raise PackInvalid([PackError(rel, "", "not a workflow path: use workflows/<name>.bpmn")])


def check_document(pack_id: str, rel: str, doc: Any) -> None:
    """Raise PackInvalid with every schema error of this one document (cross-file checks come later)."""
    check_document_path(rel)
    errors = _schema_errors(rel, doc)  # the loader's own per-file check: JSON Schema by folder kind
    if not errors and rel == MANIFEST and doc.get("id") != pack_id:
        errors.append(PackError(rel, "/id", f"the pack id cannot change in the builder (it is '{pack_id}')"))
    if errors:
        raise PackInvalid(errors)


def bpmn_problems(rel: str, xml: str) -> list[PackError]:
    """Parse one BPMN file as the runtime will (Spiff extensions + expression sandbox)."""
    try:
        parse_bpmn(xml, rel)
    except SpecInvalid as exc:
        where = f"element '{exc.element_id}': " if exc.element_id else ""
        return [PackError(rel, "", where + exc.plain, exc.line)]
    return []


def build_pack(conn: Connection, pack_id: str, documents: dict[str, Any], workflows: dict[str, str]) -> Pack:
    """The pack the runtime would deploy from these documents; PackInvalid lists every problem.

    The same checks as `tessera pack deploy`: schema, references (also to other deployed packs' entities
    and option sets), the feature checkers, the BPMN files, and the ids unique across installed packs.
    """
    errors = [e for rel, xml in sorted(workflows.items()) for e in bpmn_problems(rel, xml)]
    if MANIFEST not in documents:
        errors.append(PackError(MANIFEST, "", "the manifest pack.json is missing"))
        raise PackInvalid(errors)
    entities, sets = known_names(conn, excluding=pack_id)
    pack = load_pack_from_documents(documents, prior_errors=errors, known_entities=entities, known_option_sets=sets)
    pack.workflows = dict(workflows)
    others = deployed_packs(conn)
    others.pop(pack_id, None)
    compat = check_compatibility(pack, others)
    if compat:
        raise PackInvalid(compat)
    return pack


def problems(conn: Connection, pack_id: str, documents: dict[str, Any], workflows: dict[str, str]) -> list[dict]:
    """Every problem of a draft as dicts; [] means it can be published."""
    try:
        build_pack(conn, pack_id, documents, workflows)
    except PackInvalid as exc:
        return [e.as_dict() for e in exc.errors]
    return []
