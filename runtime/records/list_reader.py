"""Raw driver rows of a main table -> the JSON items of a list page.

List pages are read on the DBAPI cursor (`runtime/records/fetch.py`), so the values here are what
the driver returns: on SQLite, dates and datetimes as SQLAlchemy's stored text, decimals as REAL,
booleans as 0/1 and JSON as text; on PostgreSQL (psycopg2), Python dates, Decimals, bools and
parsed JSON. Each column gets the conversion SQLAlchemy's result processor and the field type's
`to_json` would do together; for SQLite's text dates and a few other hot cases an equivalent
expression is written straight into one generated function per table, because calling a
converter per cell cost as much as the query itself on a 25-row page (bench/README.md).
`tests/test_records_list_reader.py` checks items against the detail read for every field type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from runtime.blueprints.model import Entity, Field
from runtime.fields.storage import is_encrypted
from runtime.fields.types import FieldType, _datetime_to_json, _decimal_to_json, _iso, _time_to_json, field_type
from runtime.records.convert import crypt_for
from runtime.security.crypto import TableCrypt

LIST_SYSTEM = ("id", "version", "created_at", "updated_at", "owner_id")
"""System values a list item carries (the rest are for the detail page)."""
_IDENTITY = FieldType.__dataclass_fields__["to_json"].default


@dataclass(frozen=True)
class Conversion:
    """raw -> JSON for one column: a function, and optionally the same as an inline expression of `v`
    (which may call the function as `{c}(v)` for values it does not handle itself)."""

    convert: Callable[[Any], Any]
    inline: str | None = None


# SQLite's stored forms ----------------------------------------------------------------------------
def _sqlite_processor(kind: sa.types.TypeEngine) -> Callable[[Any], Any]:
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    dialect = SQLiteDialect_pysqlite()
    return kind.dialect_impl(dialect).result_processor(dialect, None)


_PARSE_DATETIME = _sqlite_processor(sa.DateTime())
_PARSE_TIME = _sqlite_processor(sa.Time())
_JSON_SEEN: dict[str, list[Any]] = {}
_JSON_SEEN_MAX = 4096


def _sqlite_datetime(value: Any) -> Any:
    """'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's storage) -> 'YYYY-MM-DDTHH:MM:SS'."""
    if isinstance(value, str) and len(value) >= 19 and value[10] == " ":
        return value[:10] + "T" + value[11:19]
    return _datetime_to_json(_PARSE_DATETIME(value), None)  # type: ignore[arg-type]


def _sqlite_time(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 5 and value[2] == ":":
        return value[:5]
    return _time_to_json(_PARSE_TIME(value), None)  # type: ignore[arg-type]


def _json_text(text: str) -> Any:
    """JSON text -> value. Option lists and tags repeat endlessly down a list page, so flat lists are
    parsed once and handed out as fresh copies (a caller may change its copy)."""
    found = _JSON_SEEN.get(text)
    if found is not None:
        return list(found)
    if text == "null":
        return None
    value = json.loads(text)
    if isinstance(value, list) and len(text) <= 512 and all(isinstance(v, str | int | float | bool) for v in value):
        if len(_JSON_SEEN) >= _JSON_SEEN_MAX:
            _JSON_SEEN.clear()
        _JSON_SEEN[text] = value
        return list(value)
    return value


SQLITE_DATETIME = Conversion(
    _sqlite_datetime, '(v[:10] + "T" + v[11:19] if v.__class__ is str and len(v) >= 19 and v[10] == " " else {c}(v))'
)
SQLITE_TIME = Conversion(_sqlite_time, '(v[:5] if v.__class__ is str and v[2:3] == ":" else {c}(v))')
SQLITE_JSON = Conversion(
    _json_text, '(list(x) if (x := _json_seen_get(v)) is not None else None if v == "null" else {c}(v))'
)
SQLITE_BOOL = Conversion(bool, "(v != 0)")


def _sqlite_shortcut(column: sa.Column, to_json: Callable | None, dialect: Dialect) -> Conversion | None | bool:
    """The direct conversion of a SQLite column, None for "no conversion", False when there is none."""
    kind = type(column.type)
    if kind is sa.Date and to_json is _iso:
        return None  # stored as 'YYYY-MM-DD', which is the JSON form
    if kind is sa.DateTime and to_json is _datetime_to_json:
        return SQLITE_DATETIME
    if kind is sa.Time and to_json is _time_to_json:
        return SQLITE_TIME
    if kind is sa.Numeric and to_json is _decimal_to_json and column.type.scale is not None:
        # Stored as REAL (INTEGER for whole numbers) from a Decimal already quantized to the scale, so the
        # float is the value itself; SQLAlchemy's Decimal('%.{s}f' % v) and back only costs time. (A value
        # stored with more decimals, e.g. before a pack lowered `decimals`, shows its stored digits here.)
        return Conversion(float, "(v if v.__class__ is float else float(v))")
    if kind is sa.JSON and to_json is None and getattr(dialect, "_json_deserializer", None) is None:
        return SQLITE_JSON
    if kind is sa.Boolean and to_json is None:
        return SQLITE_BOOL
    return False


# any dialect --------------------------------------------------------------------------------------
def column_conversion(
    dialect: Dialect, column: sa.Column, to_json: Callable[[Any, Any], Any] | None, f: Field | None, type_code: Any
) -> Conversion | None:
    """raw driver value -> JSON: the type's result processor, then `to_json` (None: pass as is)."""
    if dialect.name == "sqlite":
        short = _sqlite_shortcut(column, to_json, dialect)
        if short is not False:
            return short  # type: ignore[return-value]
    process = column.type.dialect_impl(dialect).result_processor(dialect, type_code)
    if process is None and to_json is None:
        return None
    if process is None:
        return Conversion(lambda v: to_json(v, f))
    if to_json is None:
        return Conversion(process)
    return Conversion(lambda v: to_json(process(v), f))


class RawRowReader:
    """Turns raw driver tuples of a main table (columns in `table.c` order) into list items.

    Built once per (entity, table): one generated function with a dict display for the whole row.
    Only column positions and our own converter objects go into its source (keys are passed as
    constants), so no blueprint text is ever executed.
    """

    def __init__(self, entity: Entity, table: sa.Table, dialect: Dialect, type_codes: Sequence[Any] = ()):
        self.position = {c.name: i for i, c in enumerate(table.c)}
        codes = list(type_codes) if len(type_codes) == len(self.position) else [None] * len(self.position)
        self._text_datetimes = {c.name for c in table.c if dialect.name == "sqlite" and isinstance(c.type, sa.DateTime)}
        namespace: dict[str, Any] = {"_crypt_for": crypt_for, "_json_seen_get": _JSON_SEEN.get}
        entries = []
        for name in LIST_SYSTEM:
            to_json = _datetime_to_json if name in ("created_at", "updated_at") else None
            entries.append(self._entry(namespace, len(entries), name, dialect, table, to_json, None, codes))
        for f in entity.fields:
            if f.type == "child_table" or f.name not in self.position:
                continue
            to_json = field_type(f).to_json
            to_json = None if to_json is _IDENTITY else to_json
            entries.append(self._entry(namespace, len(entries), f.name, dialect, table, to_json, f, codes))
        source = "def item(row, crypt):\n    return {" + ", ".join(entries) + "}\n"
        exec(compile(source, f"<list item reader of {table.name}>", "exec"), namespace)  # noqa: S102
        self._item: Callable[[Sequence[Any], TableCrypt | None], dict[str, Any]] = namespace["item"]

    def _entry(
        self,
        namespace: dict[str, Any],
        n: int,
        name: str,
        dialect: Dialect,
        table: sa.Table,
        to_json: Callable[[Any, Any], Any] | None,
        f: Field | None,
        codes: list[Any],
    ) -> str:
        index = self.position[name]
        namespace[f"k{n}"] = name
        value = f"row[{index}]"
        if f is not None and is_encrypted(f):
            namespace[f"f{n}"] = f
            value = f"_crypt_for(crypt, f{n}).open(f{n}, {value}, row[{self.position['id']}])"
            conversion = to_json and Conversion(lambda v, c=to_json, fl=f: c(v, fl))  # opened text is JSON-ready
        else:
            conversion = column_conversion(dialect, table.c[name], to_json, f, codes[index])
        if conversion is None:
            return f"k{n}: {value}"
        namespace[f"c{n}"] = conversion.convert
        expression = (conversion.inline or "{c}(v)").replace("{c}", f"c{n}")
        return f"k{n}: (None if (v := {value}) is None else {expression})"

    def item(self, row: Sequence[Any], crypt: TableCrypt | None) -> dict[str, Any]:
        return self._item(row, crypt)

    def cursor_value(self, row: Sequence[Any], name: str) -> Any:
        """A stored sort value as JSON for a page cursor, at full precision (never the rounded JSON form)."""
        value = row[self.position[name]]
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            if name in self._text_datetimes and len(value) > 10 and value[10] == " ":
                return value[:10] + "T" + value[11:]  # SQLite's stored text -> ISO 8601
            return value
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
