"""Read a pack directory (or in-memory documents) into the model, collecting every error.

Errors are collected rather than raised one by one: IT fixing a pack wants the whole list, each
with the file, the JSON pointer and a plain message.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from runtime.blueprints.errors import PackError, PackInvalid, pointer
from runtime.blueprints.kinds import FOLDER_KINDS, check_extras, extra_validator
from runtime.blueprints.model import (
    Entity,
    OptionSet,
    Pack,
    RoleDef,
    View,
    field_from_raw,
    form_from_raw,
    option_from_raw,
    role_from_raw,
)
from runtime.blueprints.references import check_references
from runtime.blueprints.schema import FILE_KINDS, SCHEMA_ID, pack_schema, validator_for

MANIFEST = "pack.json"
MENUS = "menus.json"
FOLDERS = {
    "entities": "entity",
    "forms": "form",
    "views": "view",
    "option_sets": "option_set",
    "roles": "role",
    "demo": "demo_data",
    **FOLDER_KINDS,
}


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(f"the key '{key}' appears twice in the same object")
        seen[key] = value
    return seen


def parse_json(text: str, file: str) -> tuple[Any, PackError | None]:
    """Parse one file; a syntax error names its line and column."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys), None
    except json.JSONDecodeError as exc:
        return None, PackError(file, "", f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", exc.lineno)
    except _DuplicateKey as exc:
        return None, PackError(file, "", f"invalid JSON: {exc}")


def read_pack_documents(path: Path) -> tuple[dict[str, Any], list[PackError]]:
    """Every JSON file of a pack directory by relative path."""
    errors: list[PackError] = []
    documents: dict[str, Any] = {}
    if not path.is_dir():
        raise PackInvalid([PackError(str(path), "", "is not a directory")])
    files = [path / MANIFEST, path / MENUS]
    for folder in FOLDERS:
        if (path / folder).is_dir():
            files.extend(sorted((path / folder).glob("*")))
    for file in files:
        rel = file.relative_to(path).as_posix()
        if not file.exists():
            if rel == MANIFEST:
                errors.append(PackError(rel, "", "the manifest pack.json is missing"))
            continue
        if file.suffix != ".json":
            if file.is_file() and not file.name.startswith("."):
                errors.append(PackError(rel, "", "only .json files belong in this folder"))
            continue
        try:
            text = file.read_text("utf-8")
        except UnicodeDecodeError:
            errors.append(PackError(rel, "", "the file is not UTF-8 text"))
            continue
        doc, err = parse_json(text, rel)
        if err:
            errors.append(err)
        else:
            documents[rel] = doc
    return documents, errors


def kind_of(rel: str) -> str | None:
    if rel == MANIFEST:
        return "manifest"
    if rel == MENUS:
        return "menus"
    folder = rel.split("/", 1)[0]
    return FOLDERS.get(folder) if "/" in rel else None


def _schema_errors(rel: str, doc: Any) -> list[PackError]:
    kind = kind_of(rel)
    if kind is None:
        return [
            PackError(
                rel, "", "unexpected file: packs hold pack.json, menus.json and the folders " + ", ".join(FOLDERS)
            )
        ]
    validator = extra_validator(kind) if kind in FOLDER_KINDS.values() else _validator(kind)
    found = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [PackError(rel, pointer(*err.absolute_path), _plain_message(err)) for err in _leaf_errors(found)]


def document_errors(kind: str, doc: Any) -> list[tuple[str, str]]:
    """(JSON pointer, plain message) for each schema error of one document of a file kind (e.g. a role an
    administrator edits through the API)."""
    found = sorted(_validator(kind).iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [(pointer(*err.absolute_path), _plain_message(err)) for err in _leaf_errors(found)]


@cache
def _validator(kind: str) -> Draft202012Validator:
    """validator_for, plus file kinds defined in the schema document but not (yet) listed in FILE_KINDS."""
    if kind in FILE_KINDS:
        return validator_for(kind)
    registry = Registry().with_resource(SCHEMA_ID, Resource.from_contents(pack_schema()))
    return Draft202012Validator({"$ref": f"{SCHEMA_ID}#/$defs/{kind}"}, registry=registry)


def _leaf_errors(errors: list[ValidationError]) -> list[ValidationError]:
    """Prefer the most specific cause of a oneOf/anyOf failure over 'is not valid under any schema'."""
    out: list[ValidationError] = []
    for err in errors:
        if err.validator in ("oneOf", "anyOf") and err.context:
            best = max(err.context, key=lambda e: len(e.absolute_path))
            out.append(best if len(best.absolute_path) > len(err.absolute_path) else err)
        else:
            out.append(err)
    return out


def _plain_message(err: ValidationError) -> str:
    v = err.validator
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return f"the property '{missing}' is required"
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return "unknown property " + ", ".join(f"'{x}'" for x in extra)
    if v == "enum":
        allowed = ", ".join(map(str, err.validator_value))
        return f"'{err.instance}' is not one of the allowed values: {allowed}"
    if v == "pattern" and isinstance(err.instance, str):
        desc = err.schema.get("description")
        return f"'{err.instance}' is not a valid name" + (f": use {desc}" if desc else "")
    if v == "type":
        shown = json.dumps(err.instance, ensure_ascii=False)[:60]
        return f"expected {err.validator_value}, got {type(err.instance).__name__} {shown}"
    if (
        v == "oneOf"
        and isinstance(err.instance, dict)
        and err.schema.get("oneOf")
        == [
            {"required": ["sections"]},
            {"required": ["tabs"]},
        ]
    ):
        return "a form has either 'sections' or 'tabs', exactly one of them"
    return err.message


def load_pack(
    path: Path | str, *, known_entities: set[str] | None = None, known_option_sets: set[str] | None = None
) -> Pack:
    """Load and fully check a pack directory; raises PackInvalid listing every problem."""
    documents, errors = read_pack_documents(Path(path))
    workflows, bpmn_errors = read_pack_workflows(Path(path))
    pack = load_pack_from_documents(
        documents, prior_errors=errors + bpmn_errors, known_entities=known_entities, known_option_sets=known_option_sets
    )
    pack.workflows = workflows
    return pack


def read_pack_workflows(path: Path) -> tuple[dict[str, str], list[PackError]]:
    """The BPMN files of workflows/, each parsed with the Spiff extensions and checked by the expression sandbox;
    a file that fails gives its name, the element id and a plain message, like any other pack error."""
    from runtime.workflows.errors import SpecInvalid
    from runtime.workflows.specs import parse_bpmn

    found: dict[str, str] = {}
    errors: list[PackError] = []
    folder = path / "workflows"
    if not folder.is_dir():
        return found, errors
    for file in sorted(folder.iterdir()):
        rel = file.relative_to(path).as_posix()
        if file.name.startswith(".") or not file.is_file():
            continue
        if file.suffix != ".bpmn":
            errors.append(PackError(rel, "", "only .bpmn files belong in the workflows folder"))
            continue
        try:
            xml = file.read_text("utf-8")
            parse_bpmn(xml, rel)
        except UnicodeDecodeError:
            errors.append(PackError(rel, "", "the file is not UTF-8 text"))
            continue
        except SpecInvalid as exc:
            where = f"element '{exc.element_id}': " if exc.element_id else ""
            errors.append(PackError(rel, "", where + exc.plain, exc.line))
            continue
        found[rel] = xml
    return found, errors


def load_pack_from_documents(
    documents: dict[str, Any],
    *,
    prior_errors: list[PackError] | None = None,
    known_entities: set[str] | None = None,
    known_option_sets: set[str] | None = None,
) -> Pack:
    """Build a pack from already-parsed documents (the builder and stored deploys use this)."""
    errors = list(prior_errors or [])
    for rel, doc in sorted(documents.items()):
        errors.extend(_schema_errors(rel, doc))
    if errors:
        raise PackInvalid(errors)
    pack = _build(documents)
    errors.extend(check_references(pack, known_entities or set(), known_option_sets or set()))
    if not errors:
        errors.extend(check_extras(pack))  # automation, reports...: they may assume the core is consistent
    if errors:
        raise PackInvalid(errors)
    return pack


def _build(documents: dict[str, Any]) -> Pack:
    manifest = documents[MANIFEST]
    pack_id = manifest["id"]
    entities: dict[str, Entity] = {}
    forms = {}
    views: dict[str, View] = {}
    option_sets: dict[str, OptionSet] = {}
    demo = []
    roles: dict[str, RoleDef] = {}
    extras: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in FOLDER_KINDS.values()}
    for rel, doc in sorted(documents.items()):
        kind = kind_of(rel)
        if kind in extras:
            extras[kind].setdefault(doc["id"], doc)
        elif kind == "entity":
            entities.setdefault(
                doc["id"], Entity(doc["id"], doc["label"], [field_from_raw(f) for f in doc["fields"]], doc, pack_id)
            )
        elif kind == "form":
            forms.setdefault(doc["id"], form_from_raw(doc, pack_id))
        elif kind == "view":
            views.setdefault(doc["id"], View(doc["id"], doc["entity"], doc["type"], doc, pack_id))
        elif kind == "option_set":
            option_sets.setdefault(
                doc["id"],
                OptionSet(doc["id"], doc["label"], [option_from_raw(o) for o in doc["options"]], doc, pack_id),
            )
        elif kind == "role":
            roles.setdefault(doc["id"], role_from_raw(doc, pack_id))
        elif kind == "demo_data":
            demo.append({**doc, "_file": rel})
    menus = documents.get(MENUS, {}).get("menus", [])
    return Pack(
        pack_id,
        manifest["version"],
        manifest,
        entities,
        forms,
        views,
        option_sets,
        menus,
        demo,
        documents,
        roles,
        extras=extras,
    )
