"""Browser form posts <-> record JSON values.

A post carries strings: each field's text goes through the field type's ``parse_text`` (the
same reader CSV import uses), so "1,200" is 1200 everywhere. The user's raw input is kept next
to the parsed value, because a form that fails validation must come back exactly as typed,
including a word typed into a number field.

Input names: ``field`` for plain fields (repeated for multiselect, region parts and files),
``table.<row>.<column>`` for child-table cells. Boolean checkboxes follow a hidden "0" input so
an unticked box still says "no".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData

from runtime.blueprints.model import Field
from runtime.clock import local_zone, utc_to_local
from runtime.fields.types import TextParseError, field_type
from runtime.validation.errors import FieldError
from ui.i18n import pick_language, t

TEXT_TYPES = frozenset({"text", "long_text", "phone", "email", "cn_id", "select", "date", "time"})
INT_TYPES = frozenset({"integer", "rating", "nps", "reference", "user", "department"})
NUMBER_TYPES = frozenset({"decimal", "money", "percent"})


@dataclass
class ParsedForm:
    data: dict[str, Any] = field(default_factory=dict)
    """JSON values for the records service, for the fields present in the post."""
    raw: dict[str, Any] = field(default_factory=dict)
    """What the user typed, per field, for showing the form again."""
    errors: list[FieldError] = field(default_factory=list)
    """Values that could not even be read (text in a number field, broken JSON)."""


def read_post(fields: list[Field], post: FormData, lang: str) -> ParsedForm:
    """Read the given fields from a post; fields absent from the post are left out entirely."""
    parsed = ParsedForm()
    for f in fields:
        if f.type == "child_table":
            if f.name in post or any(key.startswith(f.name + ".") for key in post):
                rows, raw_rows, errors = _read_rows(f, post, lang)
                parsed.data[f.name], parsed.raw[f.name] = rows, raw_rows
                parsed.errors += errors
            continue
        if f.name not in post:
            continue
        value, raw, error = read_value(f, post.getlist(f.name), lang)
        parsed.data[f.name], parsed.raw[f.name] = value, raw
        if error:
            parsed.errors.append(FieldError(f.name, error, "parse"))
    return parsed


def read_value(f: Field, values: list[Any], lang: str) -> tuple[Any, Any, str | None]:
    """(JSON value, raw input for redisplay, parse error message or None) for one field."""
    texts = [v for v in values if isinstance(v, str)]
    last = texts[-1] if texts else ""
    kind = f.type
    if kind == "boolean":
        value = None if last == "" else last in ("1", "true", "on")
        return value, value, None
    if kind == "multiselect":
        chosen = list(dict.fromkeys(v for v in texts if v))
        return chosen or None, chosen, None
    if kind == "region":
        parts = [v.strip() for v in texts]
        names = [p for p in parts if p]
        return names or None, parts, None
    if kind in ("file", "image"):
        return _read_files(texts, lang)
    if kind == "json":
        return _read_json(last, lang)
    if kind == "datetime":
        return _read_datetime(last.strip()), last, None
    text = last if kind == "long_text" else last.strip()
    if text == "":
        return None, "", None
    try:
        return field_type(f).parse_text(text, f), text, None
    except TextParseError as exc:
        return None, text, pick_language(str(exc), lang)


def _read_datetime(text: str) -> str | None:
    """datetime-local inputs hold the hospital's local time; the runtime stores UTC, so send the offset."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text  # the validator names the expected format
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local_zone())
    return parsed.isoformat(timespec="seconds")


def _read_files(texts: list[str], lang: str) -> tuple[Any, Any, str | None]:
    files = []
    for text in texts:
        if not text:
            continue
        try:
            meta = json.loads(text)
        except json.JSONDecodeError:
            return None, files, t(lang, "error.file_meta")
        if not isinstance(meta, dict):
            return None, files, t(lang, "error.file_meta")
        files.append({k: meta[k] for k in ("id", "name", "size", "content_type") if k in meta})
    return files or None, files, None


def _read_json(text: str, lang: str) -> tuple[Any, Any, str | None]:
    if not text.strip():
        return None, text, None
    try:
        return json.loads(text), text, None
    except json.JSONDecodeError as exc:
        return None, text, t(lang, "error.json", line=exc.lineno, column=exc.colno, problem=exc.msg)


def _read_rows(
    table: Field, post: FormData, lang: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[FieldError]]:
    """Rows posted as table.<i>.<column>; blank rows are dropped and the rest renumbered 0..n-1.

    Renumbering matters: the records service reports cell errors as 'table.<position>.<column>'
    by position in the list it received, and the form is shown again from that same list.
    """
    indexes: set[int] = set()
    prefix = table.name + "."
    for key in post:
        if key.startswith(prefix):
            head = key[len(prefix) :].split(".", 1)[0]
            if head.isdigit() and len(head) < 6:
                indexes.add(int(head))
    rows: list[dict[str, Any]] = []
    raw_rows: list[dict[str, Any]] = []
    errors: list[FieldError] = []
    for index in sorted(indexes):
        row: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        cell_errors: list[tuple[str, str]] = []
        for col in table.children:
            key = f"{table.name}.{index}.{col.name}"
            if key not in post or col.is_system_filled:
                continue
            value, raw_value, error = read_value(col, post.getlist(key), lang)
            raw[col.name] = raw_value
            if error:
                cell_errors.append((col.name, error))
            if value is not None:
                row[col.name] = value
        if not _blank(row) or cell_errors:
            position = len(rows)
            rows.append(row)
            raw_rows.append(raw)
            errors += [
                FieldError(f"{table.name}.{position}.{name}", msg, "parse") for name, msg in cell_errors
            ]
    return rows, raw_rows, errors


def _blank(row: dict[str, Any]) -> bool:
    """A row nobody filled in (an unticked checkbox does not count as filling in)."""
    return all(v is None or v is False or v == [] for v in row.values())


def widget_value(f: Field, value: Any) -> Any:
    """A stored JSON value in the shape the form inputs show (the same shape `read_value` returns as raw)."""
    kind = f.type
    if kind == "child_table":
        return [
            {c.name: widget_value(c, r.get(c.name)) for c in f.children}
            for r in (value or [])
            if isinstance(r, dict)
        ]
    if value is None:
        return [] if kind in ("multiselect", "region", "file", "image") else None if kind == "boolean" else ""
    if kind in ("multiselect", "region", "file", "image"):
        return list(value)
    if kind == "boolean":
        return bool(value)
    if kind == "tags":
        return ", ".join(map(str, value))
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    if kind == "datetime":
        try:
            return utc_to_local(datetime.fromisoformat(value)).strftime("%Y-%m-%dT%H:%M")
        except (TypeError, ValueError):
            return str(value)
    if kind == "time":
        return str(value)[:5]
    if kind in NUMBER_TYPES and isinstance(value, float) and value.is_integer():
        return str(int(value)) if kind != "money" else f"{value:.2f}"
    return str(value)


def widget_values(fields: list[Field], record: dict[str, Any]) -> dict[str, Any]:
    return {f.name: widget_value(f, record.get(f.name)) for f in fields}


def friendly_errors(errors: list[FieldError], data: dict[str, Any], lang: str) -> list[FieldError]:
    """Say "required" where the schema complains that an empty (null) value has the wrong type.

    An empty input becomes null; for a required field the schema reports a type mismatch, which
    reads as nonsense to someone who simply left the box empty.
    """
    out = []
    for e in errors:
        if e.code == "type" and "." not in e.field and data.get(e.field, "") is None:
            e = FieldError(e.field, t(lang, "error.required"), "required")
        out.append(e)
    return out
