"""List queries: filters, sort, keyset pagination and a count that never scans a huge table.

Pages are addressed by an opaque cursor holding the last row's sort values (keyset pagination),
so page 40,000 costs the same as page 1. The total is counted only for the first page and only
up to a cap ("10,000+"); an exact count is available on request.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from runtime.blueprints.model import SYSTEM_FIELDS, Entity, Field
from runtime.clock import local_zone
from runtime.errors import BadRequest
from runtime.fields.storage import blind_index_column, is_encrypted
from runtime.fields.types import TextParseError, field_type
from runtime.security.crypto import TableCrypt

OPS = ("eq", "ne", "in", "lt", "lte", "gt", "gte", "between", "contains", "empty")
ENCRYPTED_OPS = ("eq", "ne", "in", "empty")
"""What a blind index can answer about an encrypted field: equality, nothing else."""
NON_NULL_OPS = ("eq", "in", "lt", "lte", "gt", "gte", "between")
"""Filters that no NULL value satisfies."""
DEFAULT_LIMIT = 25
MAX_LIMIT = 200
COUNT_CAP = 10_000
SYSTEM_TYPES = {
    "id": "integer",
    "version": "integer",
    "created_by": "user",
    "updated_by": "user",
    "owner_id": "user",
    "department_id": "department",
    "created_at": "datetime",
    "updated_at": "datetime",
}


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    value: Any = None


@dataclass
class ListQuery:
    filters: list[Filter] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)
    """(field, descending) pairs; id is always added last as the tie-breaker."""
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    search: str | None = None
    search_fields: list[str] = field(default_factory=list)
    count: str = "auto"  # auto: capped count on the first page; exact; none


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None
    total_is_exact: bool
    limit: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "next_cursor": self.next_cursor,
            "total": self.total,
            "total_is_exact": self.total_is_exact,
            "limit": self.limit,
        }


def field_for(entity: Entity, name: str) -> Field:
    f = entity.field(name)
    if f is not None:
        return f
    if name in SYSTEM_FIELDS:
        return Field(name, SYSTEM_TYPES[name], name, {"name": name, "type": SYSTEM_TYPES[name]})
    raise BadRequest(f"unknown field '{name}' for entity '{entity.id}'")


# parsing from query strings ---------------------------------------------------------------------
def parse_query_params(entity: Entity, params: list[tuple[str, str]]) -> ListQuery:
    """Read `field=value`, `field__op=value`, `sort=-a,b`, `limit`, `cursor`, `q`, `count` (API and UI)."""
    query = ListQuery()
    for key, raw in params:
        if "\x00" in key or "\x00" in raw:
            raise BadRequest("query parameters may not contain NUL characters")
        if key == "sort":
            query.sort = _parse_sort(entity, raw)
        elif key == "limit":
            query.limit = _parse_limit(raw)
        elif key == "cursor":
            query.cursor = raw or None
        elif key == "q":
            query.search = raw.strip() or None
        elif key == "count":
            if raw not in ("auto", "exact", "none"):
                raise BadRequest("count must be auto, exact or none")
            query.count = raw
        elif key in ("form", "view", "lang", "page"):
            continue
        else:
            name, _, op = key.partition("__")
            query.filters.append(parse_filter(entity, name, op or "eq", raw))
    return query


def _parse_limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"limit must be a whole number between 1 and {MAX_LIMIT}") from exc
    if not 1 <= value <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number between 1 and {MAX_LIMIT}")
    return value


def _parse_sort(entity: Entity, raw: str) -> list[tuple[str, bool]]:
    out = []
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        desc = part.startswith("-")
        name = part.lstrip("-+")
        f = field_for(entity, name)
        if f.type == "child_table" or not field_type(f).sortable:
            raise BadRequest(f"the field '{name}' cannot be sorted")
        out.append((name, desc))
    refuse_encrypted_sort(entity, out)
    return out


def parse_filter(entity: Entity, name: str, op: str, raw: str) -> Filter:
    f = field_for(entity, name)
    if op not in OPS:
        raise BadRequest(f"unknown filter operator '{op}'; use one of {', '.join(OPS)}")
    allowed = (
        field_type(f).filter_ops
        if name not in SYSTEM_FIELDS
        else ("eq", "ne", "in", "lt", "lte", "gt", "gte", "between", "empty")
    )
    if is_encrypted(f) and op not in ENCRYPTED_OPS:
        raise BadRequest(encrypted_message(name))
    if op not in allowed:
        raise BadRequest(f"the filter '{op}' does not apply to the {f.type} field '{name}'")
    if op == "empty":
        if raw.lower() not in ("true", "false", "1", "0"):
            raise BadRequest(f"{name}__empty must be true or false")
        return Filter(name, op, raw.lower() in ("true", "1"))
    if op == "contains":
        if len(raw) > 200:
            raise BadRequest("a search text may have at most 200 characters")
        return Filter(name, op, raw)
    if f.type == "datetime" and op in ("lt", "lte", "gt", "gte", "between"):
        raw = _whole_days(op, raw)
    if op in ("in", "between"):
        parts = [p for p in raw.split(",")]
        if op == "between" and len(parts) != 2:
            raise BadRequest(f"{name}__between needs two values separated by a comma")
        if op == "in" and not 1 <= len(parts) <= 100:
            raise BadRequest(f"{name}__in needs 1 to 100 values separated by commas")
        return Filter(name, op, [_typed(f, p) for p in parts])
    return Filter(name, op, _typed(f, raw))


def _whole_days(op: str, raw: str) -> str:
    """A datetime bound given as a bare date covers whole days of the hospital's calendar (a list's date-range
    filter; people pick days where they work, and datetimes are stored in UTC): ``admitted_at__lte=2026-11-30``
    includes that local day, ``__gte`` starts at its local midnight. A full timestamp is kept as given."""

    def at(value: str, end: bool) -> str:
        try:
            day = date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            return value  # not a date: the field's own parser names the problem
        if day is None:
            return value
        start = datetime.combine(day, time(), tzinfo=local_zone())
        return (start + timedelta(days=1, microseconds=-1) if end else start).isoformat()

    if op == "between":
        parts = raw.split(",")
        return f"{at(parts[0], False)},{at(parts[1], True)}" if len(parts) == 2 else raw
    return at(raw, op in ("lte", "gt"))


def _typed(f: Field, raw: str) -> Any:
    """Turn a query-string value into the column's Python value, with a message naming the field."""
    ft = field_type(f)
    try:
        value = ft.parse_text(raw, f)
        if f.type in ("date", "datetime", "time"):
            from runtime.fields.formats import FORMAT_CHECKS

            fmt = {"date": "date", "datetime": "date-time", "time": "time"}[f.type]
            if not FORMAT_CHECKS[fmt](value):
                raise TextParseError(f"'{raw}' is not a valid {f.type}")
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            raise TextParseError("the number is too large")
        return ft.to_db(value, f)
    except (TextParseError, ValueError, TypeError, ArithmeticError) as exc:
        raise BadRequest(f"invalid value for '{f.name}': {exc}") from exc


# SQL ------------------------------------------------------------------------------------------
def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _json_contains(col: sa.ColumnElement, value: str, dialect: str) -> sa.ColumnElement[bool]:
    if dialect == "postgresql":
        return sa.cast(col, JSONB).contains(sa.cast(sa.literal(json.dumps([value])), JSONB))
    each = sa.func.json_each(col).table_valued("value")
    return sa.exists(sa.select(sa.literal(1)).select_from(each).where(each.c.value == value))


def filter_clause(
    entity: Entity, table: sa.Table, flt: Filter, dialect: str, crypt: TableCrypt | None = None
) -> sa.ColumnElement[bool]:
    col = table.c[flt.field]
    f = field_for(entity, flt.field)
    if is_encrypted(f):
        return _encrypted_clause(table, f, flt, crypt)
    storage_json = f.type in ("multiselect", "tags", "region", "file", "image", "json")
    match flt.op:
        case "eq":
            return col == flt.value
        case "ne":
            return sa.or_(col != flt.value, col.is_(None))
        case "in":
            return col.in_(flt.value)
        case "lt":
            return col < flt.value
        case "lte":
            return col <= flt.value
        case "gt":
            return col > flt.value
        case "gte":
            return col >= flt.value
        case "between":
            # two plain bounds rather than BETWEEN: SQLite then merges them with a keyset cursor's
            # bound on the same column and seeks straight to the page (measured 60x faster deep pages)
            return sa.and_(col >= flt.value[0], col <= flt.value[1])
        case "contains":
            if storage_json:
                return _json_contains(col, flt.value, dialect)
            return col.ilike(f"%{_like_escape(flt.value)}%", escape="\\")
        case "empty":
            if storage_json:
                empty = sa.or_(col.is_(None), sa.cast(col, sa.String).in_(["[]", "null"]))
            elif f.type in ("text", "long_text", "phone", "email", "cn_id", "select", "autonumber"):
                empty = sa.or_(col.is_(None), col == "")
            else:
                empty = col.is_(None)
            return empty if flt.value else sa.not_(empty)
    raise BadRequest(f"unknown filter operator '{flt.op}'")


def search_clause(
    entity: Entity, table: sa.Table, text: str, fields: list[str], crypt: TableCrypt | None = None
) -> sa.ColumnElement[bool]:
    """Substring search over the search fields; an encrypted field matches only the exact value (blind index)."""
    if len(text) > 200:
        raise BadRequest("a search text may have at most 200 characters")
    names = [n for n in fields or [entity.title_field] if n in table.c]
    pattern = f"%{_like_escape(text)}%"
    clauses = []
    for name in names:
        f = entity.field(name)
        if f is not None and is_encrypted(f):
            if crypt is not None:
                clauses.append(table.c[blind_index_column(name)] == crypt.blind(f, text))
        else:
            clauses.append(table.c[name].ilike(pattern, escape="\\"))
    return sa.or_(*clauses) if clauses else sa.false()


def encrypted_message(name: str, what: str = "") -> str:
    return f"{name} is encrypted: only exact-match search is possible{what}"


def refuse_encrypted_sort(entity: Entity, sort: list[tuple[str, bool]]) -> None:
    """Ciphertext is random per value: its order says nothing about the values' order."""
    for name, _ in sort:
        f = entity.field(name)
        if f is not None and is_encrypted(f):
            raise BadRequest(encrypted_message(name, ", it cannot be sorted"))


def _encrypted_clause(table: sa.Table, f: Field, flt: Filter, crypt: TableCrypt | None) -> sa.ColumnElement[bool]:
    """Exact-match filters on an encrypted field compare blind indexes (same normalisation as on write)."""
    if flt.op not in ENCRYPTED_OPS:
        raise BadRequest(encrypted_message(f.name))
    if crypt is None:
        raise RuntimeError(f"the field '{f.name}' is encrypted at rest: pass the table's cipher")
    col, bidx = table.c[f.name], table.c[blind_index_column(f.name)]
    match flt.op:
        case "eq":
            return bidx == crypt.blind(f, flt.value)
        case "ne":
            return sa.or_(bidx != crypt.blind(f, flt.value), col.is_(None))
        case "in":
            return bidx.in_([crypt.blind(f, v) for v in flt.value])
    empty = sa.or_(col.is_(None), bidx == crypt.blind(f, ""))
    return empty if flt.value else sa.not_(empty)


# keyset pagination ------------------------------------------------------------------------------
def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, entity: Entity, sort: list[tuple[str, bool]]) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise BadRequest("the cursor is not valid; start again from the first page") from exc
    if not isinstance(values, list) or len(values) != len(sort):
        raise BadRequest("the cursor does not match this sort order; start again from the first page")
    out = []
    for (name, _), value in zip(sort, values, strict=True):
        if value is None:
            out.append(None)
            continue
        f = field_for(entity, name)
        try:
            out.append(
                _typed(f, str(value))
                if f.type in ("date", "datetime", "time", "decimal", "money", "percent")
                else value
            )
        except BadRequest as exc:
            raise BadRequest("the cursor is not valid; start again from the first page") from exc
    return out


def order_by(table: sa.Table, sort: list[tuple[str, bool]]) -> list[sa.ColumnElement]:
    return [(table.c[n].desc() if d else table.c[n].asc()).nulls_last() for n, d in sort]


def full_sort(sort: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """The requested sort plus id as tie-breaker (newest first when nothing is asked; `sort=id` is honoured)."""
    by_id = [d for n, d in sort if n == "id"]
    sort = [(n, d) for n, d in sort if n != "id"]
    if not sort:
        return [("id", by_id[0] if by_id else True)]
    return [*sort, ("id", sort[-1][1] if len(sort) == 1 else False)]


def is_simple_sort(sort: list[tuple[str, bool]]) -> bool:
    """One user key plus id in the same direction: paged in two index-friendly phases."""
    return len(sort) == 2 and sort[0][1] == sort[1][1]


def simple_after(table: sa.Table, sort: list[tuple[str, bool]], values: list[Any]) -> sa.ColumnElement[bool]:
    """Rows after the cursor inside the non-NULL region of a simple sort.

    The redundant `k >= v` bound lets both databases start an index range scan at the cursor.
    """
    (name, desc), _ = sort
    col, idcol = table.c[name], table.c["id"]
    v, vid = values
    pair, bound = sa.tuple_(col, idcol), sa.tuple_(_bound(v), _bound(vid))
    if desc:
        return sa.and_(col <= v, pair < bound)
    return sa.and_(col >= v, pair > bound)


def _bound(value: Any) -> sa.ColumnElement:
    """A cursor value as a bind parameter (it may already be one: paging.py's named placeholders)."""
    return value if isinstance(value, sa.BindParameter) else sa.literal(value)


def tighten_for_cursor(filters: list[Filter], sort: list[tuple[str, bool]], values: list[Any]) -> list[Filter]:
    """Drop filter bounds on the sort column that the cursor already implies.

    With both `visit_date >= a` and the cursor's `visit_date >= v` (v > a), SQLite seeks the index
    at `a` and reads every row up to the cursor; keeping only the tighter bound lets it start at
    the page. The rows selected are the same.
    """
    (name, desc), _ = sort
    v = values[0]
    if v is None:
        return filters
    out: list[Filter] = []
    for f in filters:
        try:
            out.extend(_tightened(f, name, desc, v))
        except TypeError:
            out.append(f)
    return out


def _tightened(f: Filter, name: str, desc: bool, v: Any) -> list[Filter]:
    if f.field != name:
        return [f]
    if not desc:
        if (f.op == "gte" and f.value <= v) or (f.op == "gt" and f.value < v):
            return []
        if f.op == "between" and f.value[0] <= v:
            return [Filter(name, "lte", f.value[1])]
    else:
        if (f.op == "lte" and f.value >= v) or (f.op == "lt" and f.value > v):
            return []
        if f.op == "between" and f.value[1] >= v:
            return [Filter(name, "gte", f.value[0])]
    return [f]


def after_clause(table: sa.Table, sort: list[tuple[str, bool]], values: list[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after the cursor row in the (nulls-last) sort order, for any sort."""
    if len(sort) == 1:
        col = table.c[sort[0][0]]
        return col < values[0] if sort[0][1] else col > values[0]
    return _expanded_after(table, sort, values)


def _expanded_after(table: sa.Table, sort: list[tuple[str, bool]], values: list[Any]) -> sa.ColumnElement[bool]:
    (name, desc), rest = sort[0], sort[1:]
    col, value = table.c[name], values[0]
    if not rest:
        if value is None:
            return sa.false()
        beyond = col < value if desc else col > value
        return sa.or_(beyond, col.is_(None))
    tail = _expanded_after(table, rest, values[1:])
    if value is None:
        return sa.and_(col.is_(None), tail)
    beyond = col < value if desc else col > value
    return sa.or_(beyond, col.is_(None), sa.and_(col == value, tail))
