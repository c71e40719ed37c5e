"""Global search: one text across every entity the user may read (PL-20: search is a channel too).

Each entity is searched through the permissioned records service with its default list view's
`search_fields` (or its title field), so the data scope applies, fields the user may not read in
full are dropped from the search by `check_query` (a masked phone cannot be probed by typing
digits), and the values returned are masked like everywhere else. Entities of switched-off
modules and entities the user may not read are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.blueprints.model import Entity
from runtime.errors import BadRequest, Forbidden
from runtime.permissions.model import HIDDEN
from runtime.records.context import Context
from runtime.records.query import ListQuery
from runtime.records.titles import record_titles
from runtime.services import Tessera

MIN_LENGTH = 2
MAX_LENGTH = 200
PER_ENTITY = 5
TEXT_TYPES = frozenset({"text", "long_text", "phone", "email", "cn_id", "autonumber", "select"})
"""Fields stored as text: a substring search on them is meaningful on both databases."""
MESSAGES = {
    "nul": {"zh": "搜索内容不能包含空字符（\\0）", "en": "the search text may not contain NUL characters"},
    "long": {
        "zh": f"搜索内容最多 {MAX_LENGTH} 个字符",
        "en": f"the search text may have at most {MAX_LENGTH} characters",
    },
    "short": {
        "zh": f"请至少输入 {MIN_LENGTH} 个字符",
        "en": f"type at least {MIN_LENGTH} characters",
    },
}


@dataclass
class SearchGroup:
    entity: Entity
    fields: list[str]
    """The fields searched (and shown) for this entity, title field first."""
    items: list[dict[str, Any]]
    total: int | None
    total_is_exact: bool
    titles: dict[Any, str] = field(default_factory=dict)
    """record id -> the title it is shown by (runtime/records/titles.py)."""


@dataclass
class SearchResult:
    query: str
    groups: list[SearchGroup] = field(default_factory=list)
    too_short: bool = False


def message(key: str, lang: str) -> str:
    return MESSAGES[key]["zh" if lang == "zh" else "en"]


def clean_query(text: str | None, lang: str) -> str:
    """The trimmed search text; NUL characters and over-long input are refused with a clear message."""
    text = (text or "").strip()
    if "\x00" in text:
        raise BadRequest(message("nul", lang))
    if len(text) > MAX_LENGTH:
        raise BadRequest(message("long", lang))
    return text


def search_fields(tessera: Tessera, entity: Entity) -> list[str]:
    """The title field plus the default list view's search fields, keeping those stored as text.

    Numbers, dates and references cannot be matched by a substring on both databases, so a view
    that lists one as a search field simply does not search it here.
    """
    view = tessera.registry.default_view(entity.id)
    names = [entity.title_field, *(view.opt("search_fields", []) if view else [])]
    out: list[str] = []
    for name in names:
        f = entity.field(name)
        if f is not None and f.type in TEXT_TYPES and name not in out:
            out.append(name)
    return out


def searchable_entities(tessera: Tessera, ctx: Context) -> list[Entity]:
    """Entities of enabled modules that the context may read, in pack and blueprint order."""
    out = []
    for entity in tessera.registry.entities.values():
        if entity.pack_id and not tessera.params.module_enabled(entity.pack_id):
            continue
        if tessera.permissions.can(ctx, entity, "read"):
            out.append(entity)
    return out


def search(tessera: Tessera, text: str | None, ctx: Context, *, per_entity: int = PER_ENTITY) -> SearchResult:
    """Up to `per_entity` matches per entity, with a (capped) total; entities without a match are left out."""
    query = clean_query(text, ctx.lang)
    if len(query) < MIN_LENGTH:
        return SearchResult(query, too_short=True)
    result = SearchResult(query)
    for entity in searchable_entities(tessera, ctx):
        group = _search_entity(tessera, entity, query, ctx, per_entity)
        if group is not None:
            result.groups.append(group)
    return result


def _search_entity(tessera: Tessera, entity: Entity, text: str, ctx: Context, limit: int) -> SearchGroup | None:
    names = search_fields(tessera, entity)
    if not names:
        return None
    query = ListQuery(search=text, search_fields=names, limit=limit, count="auto")
    try:  # check_query leaves out the fields this user may not read in full
        page = tessera.records.list(entity.id, query, ctx)
    except Forbidden:  # ... and refuses when none is left
        return None
    if not page.items:
        return None
    levels = tessera.permissions.field_levels(ctx, entity)
    shown = [n for n in names if levels.get(n) != HIDDEN]
    titles = record_titles(tessera, entity, page.items, ctx)
    return SearchGroup(entity, shown, page.items, page.total, page.total_is_exact, titles)


def as_json(result: SearchResult, lang: str) -> dict[str, Any]:
    """The API answer: the same groups the page shows, with values as the records API gives them."""
    return {
        "query": result.query,
        "groups": [
            {
                "entity": g.entity.id,
                "label": g.entity.label_in(lang),
                "total": g.total,
                "total_is_exact": g.total_is_exact,
                "fields": g.fields,
                "items": [
                    {
                        "id": item["id"],
                        "title": g.titles.get(item["id"]) or f"#{item['id']}",
                        "url": f"/r/{g.entity.id}/{item['id']}",
                        "values": {n: item.get(n) for n in g.fields if n in item},
                    }
                    for item in g.items
                ],
            }
            for g in result.groups
        ],
    }
