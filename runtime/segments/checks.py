"""Cross-checks of pack segments: the entity, view and roles must exist, and every filter must parse as a list
URL would parse it (known field, an operator the field type allows, a value of the field's type)."""

from __future__ import annotations

from typing import Any

from runtime.blueprints.errors import PackError, pointer
from runtime.errors import BadRequest
from runtime.records.query import parse_filter
from runtime.segments.model import filter_text


def check_segments(pack: Any, docs: dict[str, dict]) -> list[PackError]:
    errors: list[PackError] = []
    for rel, doc in docs.items():
        entity = pack.entities.get(doc["entity"])
        if entity is None:
            known = ", ".join(sorted(pack.entities))
            errors.append(PackError(rel, pointer("entity"), f"unknown entity '{doc['entity']}' (entities: {known})"))
            continue
        for index, spec in enumerate(doc.get("filters", [])):
            try:
                parse_filter(entity, spec["field"], spec["op"], filter_text(spec.get("value")))
            except BadRequest as exc:
                errors.append(PackError(rel, pointer("filters", index), exc.message))
        view = doc.get("view")
        if view is not None:
            found = pack.views.get(view)
            if found is None:
                errors.append(PackError(rel, pointer("view"), f"unknown view '{view}'"))
            elif found.entity != entity.id or found.type != "list":
                errors.append(PackError(rel, pointer("view"), f"'{view}' is not a list view of '{entity.id}'"))
        for index, role in enumerate(doc.get("roles", [])):
            if role not in pack.roles:
                errors.append(PackError(rel, pointer("roles", index), f"unknown role '{role}'"))
    return errors
