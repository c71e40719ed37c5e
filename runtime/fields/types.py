"""What each field type means to validation and conversion.

`json_schema` gives the fragment for the generated entity schema (what a client may send),
`to_db` turns an already-validated JSON value into the column value, `to_json` turns a column
value back into what the API returns, and `parse_text` reads the strings a browser form or a
CSV cell delivers. Keeping all four together means adding a field type touches one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from runtime.blueprints.model import Field

JsonValue = Any
OptionValues = Callable[[str], list[str]]
"""Looks up the active values of an option set by id (option sets are editable at run time)."""

TEXT_OPS = ("eq", "ne", "in", "contains", "empty")
ORDERED_OPS = ("eq", "ne", "in", "lt", "lte", "gt", "gte", "between", "empty")
JSON_OPS = ("contains", "empty")


class TextParseError(ValueError):
    """A form or CSV string that cannot be read as the field's type; the message is shown to the user."""


@dataclass(frozen=True)
class FieldType:
    name: str
    widget: str
    filter_ops: tuple[str, ...]
    schema: Callable[[Field, OptionValues], dict]
    to_db: Callable[[JsonValue, Field], Any] = lambda v, f: v
    to_json: Callable[[Any, Field], JsonValue] = lambda v, f: v
    parse_text: Callable[[str, Field], JsonValue] = lambda s, f: s
    sortable: bool = True
    extra: dict = field(default_factory=dict)


MAX_SAFE_INTEGER = 2**53 - 1
"""Integers beyond this lose precision in browsers' JSON; it also keeps values inside BIGINT."""
MAX_ID = 2**63 - 1


def _number_limit(f: Field) -> float:
    """The largest magnitude the field's NUMERIC column holds (precision minus scale digits)."""
    from runtime.fields.storage import storage_type

    st = storage_type(f)
    if st is None or st.kind != "numeric":
        return MAX_SAFE_INTEGER
    return 10 ** ((st.precision or 18) - (st.scale or 0)) - 1


def _bounded(schema: dict, f: Field) -> dict:
    """min/max from the blueprint, else the column's own range, so no value can overflow the database."""
    limit = MAX_SAFE_INTEGER if schema.get("type") == "integer" else _number_limit(f)
    schema["minimum"] = f.opt("min") if f.opt("min") is not None else -limit
    schema["maximum"] = f.opt("max") if f.opt("max") is not None else limit
    return schema


def _string_schema(f: Field, default_max: int | None) -> dict:
    schema: dict = {"type": "string"}
    max_length = f.opt("max_length", default_max)
    if max_length:
        schema["maxLength"] = max_length
    if f.opt("min_length"):
        schema["minLength"] = f.opt("min_length")
    if f.opt("pattern"):
        schema["pattern"] = f.opt("pattern")
    return schema


def _parse_int(s: str, f: Field) -> int:
    try:
        return int(s.strip().replace(",", ""))
    except ValueError as exc:
        raise TextParseError("请输入整数 / enter a whole number") from exc


def _parse_number(s: str, f: Field) -> float | int:
    text = s.strip().replace(",", "").rstrip("%").replace("¥", "").replace("￥", "")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise TextParseError("请输入数字 / enter a number") from exc
    if not value.is_finite():
        raise TextParseError("请输入数字 / enter a number")
    return int(value) if value == value.to_integral_value() and "." not in text else float(value)


def _decimal_to_db(value: JsonValue, f: Field) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-f.opt("decimals", 2)))


def _decimal_to_json(value: Any, f: Field) -> float | None:
    return None if value is None else float(value)


def _parse_bool(s: str, f: Field) -> bool:
    low = s.strip().lower()
    if low in ("1", "true", "yes", "y", "on", "是", "真", "对"):
        return True
    if low in ("0", "false", "no", "n", "off", "否", "假", ""):
        return False
    raise TextParseError("请选择是或否 / choose yes or no")


def _iso(value: Any, f: Field) -> str | None:
    return None if value is None else value.isoformat()


def _date_to_db(value: JsonValue, f: Field) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _datetime_to_db(value: JsonValue, f: Field) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:  # stored as naive UTC: one convention for SQLite and PostgreSQL
        from datetime import UTC

        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _datetime_to_json(value: Any, f: Field) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _time_to_db(value: JsonValue, f: Field) -> time | None:
    return None if value is None else time.fromisoformat(value)


def _time_to_json(value: Any, f: Field) -> str | None:
    return None if value is None else value.isoformat(timespec="minutes")


def _parse_list(s: str, f: Field) -> list[str]:
    parts = [p.strip() for p in s.replace("，", ",").replace(";", ",").split(",")]
    return [p for p in parts if p]


def _parse_region(s: str, f: Field) -> list[str]:
    parts = [p.strip() for p in s.replace(" / ", "/").split("/")]
    return [p for p in parts if p]


def _file_list_schema(f: Field, _: OptionValues) -> dict:
    return {
        "type": "array",
        "maxItems": f.opt("max_files", 10),
        "items": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {
                "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                "name": {"type": "string", "maxLength": 255},
                "size": {"type": "integer", "minimum": 0},
                "content_type": {"type": "string", "maxLength": 100},
            },
            "additionalProperties": False,
        },
    }


def _text_types() -> list[FieldType]:
    return [
        FieldType("text", "text", TEXT_OPS, lambda f, o: _string_schema(f, 255)),
        FieldType("long_text", "textarea", TEXT_OPS, lambda f, o: _string_schema(f, 10000), sortable=False),
        FieldType("phone", "tel", TEXT_OPS, lambda f, o: {"type": "string", "format": "cn-phone"}),
        FieldType("email", "email", TEXT_OPS, lambda f, o: {"type": "string", "format": "email", "maxLength": 254}),
        FieldType(
            "cn_id", "text", ("eq", "ne", "in", "empty"), lambda f, o: {"type": "string", "format": "cn-resident-id"}
        ),
        FieldType("autonumber", "readonly", TEXT_OPS, lambda f, o: {"type": "string", "maxLength": 64}),
    ]


def _number_types() -> list[FieldType]:
    number = {"to_db": _decimal_to_db, "to_json": _decimal_to_json, "parse_text": _parse_number}
    return [
        FieldType(
            "integer", "number", ORDERED_OPS, lambda f, o: _bounded({"type": "integer"}, f), parse_text=_parse_int
        ),
        FieldType("decimal", "number", ORDERED_OPS, lambda f, o: _bounded({"type": "number"}, f), **number),
        FieldType("money", "money", ORDERED_OPS, lambda f, o: _bounded({"type": "number"}, f), **number),
        FieldType("percent", "percent", ORDERED_OPS, lambda f, o: _bounded({"type": "number"}, f), **number),
        FieldType(
            "rating",
            "rating",
            ORDERED_OPS,
            lambda f, o: {"type": "integer", "minimum": 1, "maximum": f.opt("scale", 5)},
            parse_text=_parse_int,
        ),
        FieldType(
            "nps",
            "nps",
            ORDERED_OPS,
            lambda f, o: {"type": "integer", "minimum": 0, "maximum": 10},
            parse_text=_parse_int,
        ),
    ]


def _time_types() -> list[FieldType]:
    return [
        FieldType("date", "date", ORDERED_OPS, lambda f, o: {"type": "string", "format": "date"}, _date_to_db, _iso),
        FieldType(
            "datetime",
            "datetime",
            ORDERED_OPS,
            lambda f, o: {"type": "string", "format": "date-time"},
            _datetime_to_db,
            _datetime_to_json,
        ),
        FieldType(
            "time", "time", ORDERED_OPS, lambda f, o: {"type": "string", "format": "time"}, _time_to_db, _time_to_json
        ),
    ]


def _choice_types() -> list[FieldType]:
    def select_schema(f: Field, options: OptionValues) -> dict:
        return {"type": "string", "enum": options(f.opt("option_set"))}

    def multi_schema(f: Field, options: OptionValues) -> dict:
        return {"type": "array", "uniqueItems": True, "items": {"enum": options(f.opt("option_set"))}}

    return [
        FieldType(
            "boolean", "checkbox", ("eq", "ne", "empty"), lambda f, o: {"type": "boolean"}, parse_text=_parse_bool
        ),
        FieldType("select", "select", ("eq", "ne", "in", "empty"), select_schema),
        FieldType("multiselect", "multiselect", JSON_OPS, multi_schema, parse_text=_parse_list, sortable=False),
        FieldType(
            "tags",
            "tags",
            JSON_OPS,
            lambda f, o: {
                "type": "array",
                "uniqueItems": True,
                "maxItems": 50,
                "items": {"type": "string", "minLength": 1, "maxLength": 50},
            },
            parse_text=_parse_list,
            sortable=False,
        ),
        FieldType(
            "region",
            "region",
            ("contains", "empty"),
            lambda f, o: {
                "type": "array",
                "minItems": 1,
                "maxItems": 4,
                "items": {"type": "string", "minLength": 1, "maxLength": 50},
            },
            parse_text=_parse_region,
            sortable=False,
        ),
    ]


def _link_types() -> list[FieldType]:
    ref = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    return [
        FieldType("reference", "reference", ("eq", "ne", "in", "empty"), lambda f, o: dict(ref), parse_text=_parse_int),
        FieldType("user", "user", ("eq", "ne", "in", "empty"), lambda f, o: dict(ref), parse_text=_parse_int),
        FieldType(
            "department", "department", ("eq", "ne", "in", "empty"), lambda f, o: dict(ref), parse_text=_parse_int
        ),
        FieldType("file", "file", ("empty",), _file_list_schema, sortable=False),
        FieldType("image", "image", ("empty",), _file_list_schema, sortable=False),
        FieldType("json", "json", ("empty",), lambda f, o: {}, sortable=False),
        FieldType("child_table", "child_table", (), lambda f, o: {"type": "array"}, sortable=False),
        FieldType("computed", "readonly", ORDERED_OPS, lambda f, o: {}),
    ]


FIELD_TYPES: dict[str, FieldType] = {
    ft.name: ft for ft in [*_text_types(), *_number_types(), *_time_types(), *_choice_types(), *_link_types()]
}


def field_type(f: Field) -> FieldType:
    """The behaviour of a field; computed fields behave like their result type when read."""
    if f.type == "computed":
        result = f.opt("result_type", "text")
        base = FIELD_TYPES["decimal" if result == "decimal" else result]
        return FieldType(
            "computed", "readonly", base.filter_ops, lambda fl, o: {}, base.to_db, base.to_json, base.parse_text
        )
    return FIELD_TYPES[f.type]
