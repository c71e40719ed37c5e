"""A list query from query-string parameters: one reading for every channel that lists from a URL.

The records list API, export and print must mean the same rows for the same parameters: filters,
sort, search, and a ``view`` whose ``search_fields`` the search then uses.
"""

from __future__ import annotations

from runtime.blueprints.model import Entity
from runtime.records.query import ListQuery, parse_query_params
from runtime.registry import Registry


def list_query_from_params(registry: Registry, entity: Entity, params: list[tuple[str, str]]) -> ListQuery:
    """Parse `field=value`, `field__op=value`, `sort`, `limit`, `cursor`, `q`, `count` and `view`."""
    query = parse_query_params(entity, params)
    view_id = dict(params).get("view")
    if view_id:
        view = registry.view(view_id)
        query.search_fields = view.opt("search_fields", [])
    return query
