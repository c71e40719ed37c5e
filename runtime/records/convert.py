"""JSON values <-> column values for whole records, main row and child rows.

Sensitive fields are sealed here on the way in and opened on the way out (runtime.security), so
every channel gets plaintext from the records service and no caller ever sees ciphertext; masking
for roles that may not read a field happens afterwards, on the decrypted record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Row

from runtime.blueprints.model import Entity, Field
from runtime.fields.storage import is_encrypted
from runtime.fields.types import FieldType, field_type
from runtime.security.crypto import FieldCipher, TableCrypt

SYSTEM_JSON = ("id", "version", "created_by", "updated_by", "owner_id", "department_id")


def crypt_for(crypt: TableCrypt | None, f: Field) -> TableCrypt:
    if crypt is None:  # never store or show a sensitive value unencrypted because a caller forgot the cipher
        raise RuntimeError(f"the field '{f.name}' is encrypted at rest: pass the table's cipher")
    return crypt


def to_db_values(fields: list[Field], data: dict[str, Any], crypt: TableCrypt | None = None) -> dict[str, Any]:
    """Convert validated JSON values of plain fields to column values (ciphertext and blind index if sensitive)."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.type == "child_table" or f.name not in data:
            continue
        value = field_type(f).to_db(data[f.name], f)
        if is_encrypted(f):
            out.update(crypt_for(crypt, f).seal(f, value))
        else:
            out[f.name] = value
    return out


_IDENTITY = FieldType.__dataclass_fields__["to_json"].default
ReadStep = tuple[str, Field, bool, Callable[[Any, Field], Any] | None]
_READ_PLANS: dict[int, tuple[list[Field], list[ReadStep]]] = {}


def _read_plan(entity_fields: list[Field]) -> list[ReadStep]:
    """Per field: name, whether it is encrypted, and its converter (None when the value passes as is).

    Computed once per field list: looking up field types and storage per cell cost more than the
    database query itself on a 25-row page (see bench/README.md).
    """
    cached = _READ_PLANS.get(id(entity_fields))
    if cached is not None and cached[0] is entity_fields:
        return cached[1]
    plan: list[ReadStep] = []
    for f in entity_fields:
        if f.type == "child_table":
            continue
        convert = field_type(f).to_json
        plan.append((f.name, f, is_encrypted(f), None if convert is _IDENTITY else convert))
    if len(_READ_PLANS) > 2000:  # registry reloads make new field lists; forget the old ones
        _READ_PLANS.clear()
    _READ_PLANS[id(entity_fields)] = (entity_fields, plan)
    return plan


def row_to_json(
    entity_fields: list[Field], row: Row | dict[str, Any], crypt: TableCrypt | None = None
) -> dict[str, Any]:
    mapping = dict(zip(row._fields, row, strict=True)) if isinstance(row, Row) else row
    out: dict[str, Any] = {}
    for name, f, encrypted, convert in _read_plan(entity_fields):
        value = mapping.get(name)
        if encrypted:
            value = crypt_for(crypt, f).open(f, value, mapping.get("id"))
        out[name] = value if convert is None or value is None else convert(value, f)
    return out


def record_to_json(
    entity: Entity, row: Row | dict[str, Any], children: dict[str, list[Row]], cipher: FieldCipher | None = None
) -> dict[str, Any]:
    m = row._mapping if isinstance(row, Row) else row
    out: dict[str, Any] = {k: m[k] for k in SYSTEM_JSON}
    out["created_at"] = m["created_at"].isoformat(timespec="seconds")
    out["updated_at"] = m["updated_at"].isoformat(timespec="seconds")
    out.update(row_to_json(entity.fields, row, cipher and cipher.for_table(entity.table_name)))
    for f in entity.fields:
        if f.type == "child_table":
            crypt = cipher and cipher.for_table(entity.child_table_name(f))
            out[f.name] = [
                {"id": r._mapping["id"], **row_to_json(f.children, r, crypt)} for r in children.get(f.name, [])
            ]
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

