"""A segment and its filters: the filter objects of views ({"field", "op", "value"}) turned into list-query
filters by the same parser as list URLs, so a segment can never mean something a list cannot show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.blueprints.model import Entity
from runtime.errors import BadRequest
from runtime.records.query import Filter, parse_filter

MAX_FILTERS = 20
PACK_ID_PREFIX = ""
USER_ID_PREFIX = "user-"
"""User-saved segments are addressed as user-<n>; pack segment ids are identifiers, so the two never clash."""


@dataclass(frozen=True)
class Segment:
    id: str
    entity: str
    label: dict[str, str] | str
    filters: list[dict[str, Any]]
    search: str | None = None
    view: str | None = None
    description: dict[str, str] | None = None
    roles: list[str] = field(default_factory=list)
    """Pack segments: roles that see it (empty: whoever may read the entity). User segments: the shared role."""
    source: str = "pack"  # pack | user
    owner_id: int | None = None
    pack: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "entity": self.entity,
            "label": self.label,
            "description": self.description,
            "filters": self.filters,
            "search": self.search,
            "view": self.view,
            "roles": self.roles,
            "source": self.source,
            "owner_id": self.owner_id,
        }


def filter_text(value: Any) -> str:
    """A filter value as the list URL writes it (lists comma-separated, booleans true/false)."""
    if isinstance(value, list):
        return ",".join(filter_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def parse_filters(entity: Entity, specs: Any) -> list[Filter]:
    """Validate and parse filter objects; a BadRequest names the filter and what is wrong with it."""
    if not isinstance(specs, list):
        raise BadRequest("'filters' must be a list of {\"field\", \"op\", \"value\"} objects")
    if len(specs) > MAX_FILTERS:
        raise BadRequest(f"a segment may have at most {MAX_FILTERS} filters")
    out = []
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict) or not isinstance(spec.get("field"), str) or not isinstance(spec.get("op"), str):
            raise BadRequest(f"filter {index + 1}: needs a 'field' and an 'op' (e.g. {{\"field\": \"status\", "
                             f"\"op\": \"eq\", \"value\": \"formal\"}})")
        extra = set(spec) - {"field", "op", "value"}
        if extra:
            raise BadRequest(f"filter {index + 1}: unknown key(s) {', '.join(sorted(extra))}")
        value = spec.get("value")
        if isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, dict | list) for v in value)):
            raise BadRequest(f"filter {index + 1} ({spec['field']}): the value must be text, a number, true/false "
                             "or a list of those")
        try:
            out.append(parse_filter(entity, spec["field"], spec["op"], filter_text(value)))
        except BadRequest as exc:
            raise BadRequest(f"filter {index + 1} ({spec['field']} {spec['op']}): {exc.message}") from exc
    return out


def filters_from_params(entity: Entity, params: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], str | None]:
    """The filters and search text of a list URL's parameters (``field__op=value``, ``q``), as filter objects:
    what "save as segment" stores. Paging, sorting and page-only parameters are dropped."""
    filters: list[dict[str, Any]] = []
    search = None
    for key, raw in params:
        if key == "q":
            search = raw.strip() or None
            continue
        if key in ("sort", "limit", "cursor", "count", "view", "form", "lang", "page", "month") or raw == "":
            continue
        name, _, op = key.partition("__")
        op = op or "eq"
        parsed = parse_filter(entity, name, op, raw)  # refuses what the list would refuse
        value: Any = raw.split(",") if op in ("in", "between") else raw
        if op == "empty":
            value = parsed.value
        filters.append({"field": name, "op": op, "value": value})
    return filters, search


def filters_to_params(filters: list[dict[str, Any]], search: str | None = None) -> list[tuple[str, str]]:
    """Filter objects as list URL parameters, to open a segment as a normal filtered list."""
    params = [(f["field"] if f["op"] == "eq" else f"{f['field']}__{f['op']}", filter_text(f.get("value")))
              for f in filters]
    if search:
        params.append(("q", search))
    return params
