"""JSON values <-> column values for whole records, main row and child rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from runtime.blueprints.model import Entity, Field
from runtime.fields.types import field_type

SYSTEM_JSON = ("id", "version", "created_by", "updated_by", "owner_id", "department_id")


def to_db_values(fields: list[Field], data: dict[str, Any]) -> dict[str, Any]:
    """Convert validated JSON values of plain fields to Python/column values."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.type == "child_table" or f.name not in data:
            continue
        out[f.name] = field_type(f).to_db(data[f.name], f)
    return out


def row_to_json(entity_fields: list[Field], row: Row | dict[str, Any]) -> dict[str, Any]:
    mapping = row._mapping if isinstance(row, Row) else row
    out: dict[str, Any] = {}
    for f in entity_fields:
        if f.type == "child_table":
            continue
        out[f.name] = field_type(f).to_json(mapping.get(f.name), f)
    return out


def record_to_json(entity: Entity, row: Row, children: dict[str, list[Row]]) -> dict[str, Any]:
    m = row._mapping
    out: dict[str, Any] = {k: m[k] for k in SYSTEM_JSON}
    out["created_at"] = m["created_at"].isoformat(timespec="seconds")
    out["updated_at"] = m["updated_at"].isoformat(timespec="seconds")
    out.update(row_to_json(entity.fields, row))
    for f in entity.fields:
        if f.type == "child_table":
            out[f.name] = [{"id": r._mapping["id"], **row_to_json(f.children, r)} for r in children.get(f.name, [])]
    return out


def python_values(entity_fields: list[Field], data: dict[str, Any]) -> dict[str, Any]:
    """The values expressions see: dates as dates, money as Decimal, child rows as lists of dicts."""
    out: dict[str, Any] = {}
    for f in entity_fields:
        if f.name not in data:
            continue
        value = data[f.name]
        if f.type == "child_table":
            out[f.name] = [python_values(f.children, r) for r in (value or [])]
        else:
            try:
                out[f.name] = field_type(f).to_db(value, f)
            except (ValueError, TypeError, ArithmeticError):
                out[f.name] = None  # not yet valid while the user is typing: conditions treat it as empty
    return out
