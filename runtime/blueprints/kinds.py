"""Blueprint file kinds beyond the core (entities, forms, views, ...): automation, reports and the like.

Each kind is a pack folder of JSON documents with its own JSON Schema file
(``runtime/blueprints/schema/<kind>.schema.json``) and, optionally, a cross-reference checker that
runs once the pack is built (a rule naming a field that does not exist, a template whose merge field
is unknown). The checker lives with the feature that owns the kind, named here by dotted path, so
the loader stays ignorant of automation and the features stay out of the loader.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from runtime.blueprints.errors import PackError


@dataclass(frozen=True)
class ExtraKind:
    folder: str
    """Pack folder holding the documents, one JSON file each, every one with a unique 'id'."""
    kind: str
    """Name of the schema file (schema/<kind>.schema.json) and key in Pack.extras."""
    checker: str | None = None
    """'module:function' called as function(pack, documents_by_rel) -> list[PackError] after the build."""


EXTRA_KINDS: tuple[ExtraKind, ...] = (
    ExtraKind("rules", "rule", "runtime.automation.rules.checks:check_rules"),
    ExtraKind("state_machines", "state_machine", "runtime.automation.states.checks:check_state_machines"),
    ExtraKind("templates", "message_template", "runtime.notify.templates.checks:check_templates"),
    ExtraKind("followups", "followup_plan", "runtime.automation.followups.checks:check_followup_plans"),
    ExtraKind("scores", "score", "runtime.automation.scores.checks:check_scores"),
    ExtraKind("pools", "pool", "runtime.automation.pools.checks:check_pools"),
    ExtraKind("reports", "report", "runtime.reports.checks:check_reports"),
    ExtraKind("dashboards", "dashboard", "runtime.reports.checks:check_dashboards"),
    ExtraKind("segments", "segment", "runtime.segments.checks:check_segments"),
    ExtraKind("his", "his_mapping", "runtime.his.checks:check_his_mappings"),  # HIS inbound mapping (runtime/his)
)
FOLDER_KINDS = {k.folder: k.kind for k in EXTRA_KINDS}


@cache
def schema_of(kind: str) -> dict[str, Any]:
    text = resources.files("runtime.blueprints").joinpath(f"schema/{kind}.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def extra_validator(kind: str) -> Draft202012Validator:
    """A validator for one extra kind; its schema may $ref the core pack schema's $defs (labels, names)."""
    from runtime.blueprints.schema import SCHEMA_ID, pack_schema

    registry = Registry().with_resource(SCHEMA_ID, Resource.from_contents(pack_schema()))
    return Draft202012Validator(schema_of(kind), registry=registry)


def _resolve(dotted: str) -> Callable[..., list[PackError]] | None:
    module_name, _, func = dotted.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None  # the feature owning this kind is not installed (yet): schema checks only
        raise
    return getattr(module, func)


def check_extras(pack: Any) -> list[PackError]:
    """Cross-reference checks of every extra kind present in the pack."""
    errors: list[PackError] = []
    for extra in EXTRA_KINDS:
        docs = {rel: doc for rel, doc in pack.documents.items() if rel.startswith(extra.folder + "/")}
        if not docs or extra.checker is None:
            continue
        checker = _resolve(extra.checker)
        if checker is not None:
            errors.extend(checker(pack, docs))
    return errors
