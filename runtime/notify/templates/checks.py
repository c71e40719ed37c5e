"""Pack-load checks of message templates: every merge field must exist, every text must parse.

A misspelt merge field found when the first SMS goes out is found too late (the rule already fired,
the patient got a broken text, or nothing). So the loader parses each text with the same sandboxed
Jinja2 environment that renders it, walks the syntax tree (``Name``/``Getattr``/``Getitem`` chains)
and checks each path against the template's entity, following reference fields to the related
entity: ``record.hospital.name`` needs a field ``hospital`` that references an entity with a field
``name``. Errors name the file and the JSON pointer of the text (``/channels/sms/zh``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from runtime.blueprints.errors import PackError, pointer
from runtime.notify.templates.render import (
    BASE_NAMES,
    JINJA_NAMES,
    RECIPIENT_FIELDS,
    SYSTEM_FIELDS,
    TEXT_ENV,
    USER_FIELDS,
)


def template_texts(doc: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every template text of a document with its path: (("channels", "sms", "zh"), "...")."""
    for channel, spec in (doc.get("channels") or {}).items():
        parts: list[tuple[tuple[str, ...], Any]] = []
        if channel in ("sms", "webhook"):
            parts.append(((channel,), spec))
        elif isinstance(spec, dict):
            parts.extend(((channel, name), value) for name, value in spec.items())
        for path, value in parts:
            if isinstance(value, str):
                yield ("channels", *path), value
            elif isinstance(value, dict):
                for lang, text in value.items():
                    if isinstance(text, str):
                        yield ("channels", *path, lang), text


def _chain(node: nodes.Node) -> tuple[str, list[str]] | None:
    """``record.hospital.name`` → ("record", ["hospital", "name"]); None when the chain has no plain root."""
    path: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            path.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            path.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            return node.name, list(reversed(path))
        else:
            return None


def _assigned_names(tree: nodes.Template) -> set[str]:
    """Names the template defines itself ({% for x in ... %}, {% set x = ... %}, macro arguments)."""
    found: set[str] = set()
    for node in tree.find_all((nodes.Name,)):
        if node.ctx in ("store", "param"):
            found.add(node.name)
    return found


class MergeFieldChecker:
    def __init__(self, pack: Any, entity_id: str | None, variables: list[str]):
        self.pack = pack
        self.entity_id = entity_id
        self.variables = set(variables)

    def problems(self, source: str) -> list[str]:
        try:
            tree = TEXT_ENV.parse(source)
        except TemplateSyntaxError as exc:
            return [f"template syntax error on line {exc.lineno}: {exc.message}"]
        own = _assigned_names(tree)
        found: list[str] = []
        self._walk(tree, own, found)
        return list(dict.fromkeys(found))

    def _walk(self, node: nodes.Node, own: set[str], found: list[str]) -> None:
        if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
            chain = _chain(node)
            if chain is not None:
                if not (isinstance(node, nodes.Name) and node.ctx != "load"):
                    problem = self._check(chain[0], chain[1], own)
                    if problem:
                        found.append(problem)
                if isinstance(node, nodes.Getitem):
                    self._walk(node.arg, own, found)
                return
        for child in node.iter_child_nodes():
            self._walk(child, own, found)

    def _check(self, root: str, path: list[str], own: set[str]) -> str | None:
        if root in own or root in self.variables or root in JINJA_NAMES:
            return None
        shown = ".".join([root, *path])
        if root not in BASE_NAMES:
            known = ", ".join([*BASE_NAMES, *sorted(self.variables)])
            return f"unknown merge field '{shown}' — '{root}' is not one of: {known}"
        if root == "recipient" and path and path[0] not in RECIPIENT_FIELDS:
            return (
                f"unknown merge field '{shown}' — the recipient has no field '{path[0]}' "
                f"(known: {', '.join(RECIPIENT_FIELDS)})"
            )
        if root == "record":
            if self.entity_id is None:
                return f"unknown merge field '{shown}' — the template names no entity, so there is no record"
            return self._check_record(self.entity_id, path, "record")
        return None

    def _check_record(self, entity_id: str, path: list[str], shown: str) -> str | None:
        entity = self.pack.entities.get(entity_id)
        for i, name in enumerate(path):
            if entity is None:
                return None  # an entity of another pack: its fields are checked when rendering
            full = f"{shown}.{name}"
            fields = {f.name: f for f in entity.fields}
            field = fields.get(name)
            if field is None:
                if name in SYSTEM_FIELDS and i == len(path) - 1:
                    return None
                return f"unknown merge field '{full}' — the entity '{entity.id}' has no field '{name}'"
            shown = full
            rest = path[i + 1 :]
            if field.type == "reference":
                entity = self.pack.entities.get(field.opt("entity"))
                continue
            if field.type == "user":
                if rest and rest[0] not in USER_FIELDS:
                    return (
                        f"unknown merge field '{shown}.{rest[0]}' — '{name}' is a user; known: {', '.join(USER_FIELDS)}"
                    )
                return None
            return None  # a value: string methods and filters are the sandbox's business
        return None


def check_templates(pack: Any, documents: dict[str, dict[str, Any]]) -> list[PackError]:
    """Cross-checks of the templates/ folder, called by the pack loader (runtime.blueprints.kinds)."""
    errors: list[PackError] = []
    for rel, doc in sorted(documents.items()):
        entity_id = doc.get("entity")
        if entity_id is not None and entity_id not in pack.entities:
            errors.append(PackError(rel, "/entity", f"the entity '{entity_id}' does not exist in this pack"))
        checker = MergeFieldChecker(pack, entity_id, list(doc.get("variables") or []))
        for path, source in template_texts(doc):
            for problem in checker.problems(source):
                errors.append(PackError(rel, pointer(*path), problem))
    return errors
