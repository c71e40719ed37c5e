"""Checks that need the database: unique values, referenced records, users, departments and files exist."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.blueprints.model import Entity, Field
from runtime.fields.storage import blind_index_column, is_encrypted
from runtime.registry import Registry
from runtime.security.crypto import TableCrypt
from runtime.storage import platform_tables as pt
from runtime.validation.errors import FieldError

_MSG = {
    # the other record is not named: it may lie outside what this user is allowed to see
    "unique": {"zh": "该值已被另一条记录使用", "en": "is already used by another record"},
    "unique_together": {
        "zh": "与{others}的组合已被另一条记录使用（每个组合只能有一条记录）",
        "en": "is already used together with {others} by another record (one record per combination)",
    },
    "missing_ref": {"zh": "引用的记录 #{value} 不存在", "en": "refers to record #{value}, which does not exist"},
    "missing_user": {"zh": "用户 #{value} 不存在", "en": "user #{value} does not exist"},
    "missing_department": {"zh": "部门 #{value} 不存在", "en": "department #{value} does not exist"},
    "missing_file": {"zh": "文件 {value} 不存在，请重新上传", "en": "file {value} does not exist; upload it again"},
}


def _msg(key: str, lang: str, **params: Any) -> str:
    return _MSG[key]["zh" if lang == "zh" else "en"].format(**params)


def unique_errors(
    conn: Connection,
    entity: Entity,
    table: sa.Table,
    values: dict[str, Any],
    record_id: int | None,
    skip: set[str],
    lang: str,
    crypt: TableCrypt | None = None,
) -> list[FieldError]:
    """Values of unique fields already used by another record; encrypted fields compare blind indexes."""
    errors = []
    for f in entity.fields:
        if not f.unique or f.name in skip or values.get(f.name) in (None, ""):
            continue
        if is_encrypted(f):
            if crypt is None:
                raise RuntimeError(f"the field '{f.name}' is encrypted at rest: pass the table's cipher")
            same = table.c[blind_index_column(f.name)] == crypt.blind(f, values[f.name])
        else:
            same = table.c[f.name] == values[f.name]
        q = sa.select(table.c.id).where(same).limit(1)
        if record_id is not None:
            q = q.where(table.c.id != record_id)
        other = conn.execute(q).scalar()
        if other is not None:
            errors.append(FieldError(f.name, _msg("unique", lang, other=other), "unique"))
    return errors + unique_together_errors(conn, entity, table, values, record_id, skip, lang)


def unique_together_errors(
    conn: Connection,
    entity: Entity,
    table: sa.Table,
    values: dict[str, Any],
    record_id: int | None,
    skip: set[str],
    lang: str,
) -> list[FieldError]:
    """Unique indexes over several fields (one business-volume record per hospital and month): a clear error on
    the index's last field before the database would refuse the row with a bare integrity error."""
    errors = []
    for index in entity.raw.get("indexes", []):
        names = index.get("fields", [])
        if not index.get("unique") or len(names) < 2 or any(n in skip for n in names):
            continue
        fields = [entity.field(n) for n in names]
        if any(f is None or is_encrypted(f) or values.get(f.name) in (None, "") for f in fields):
            continue
        q = sa.select(table.c.id).where(*(table.c[n] == _db_value(table.c[n], values[n]) for n in names)).limit(1)
        if record_id is not None:
            q = q.where(table.c.id != record_id)
        if conn.execute(q).scalar() is not None:
            others = "、".join(f.label_in(lang) for f in fields[:-1] if f is not None)
            errors.append(FieldError(names[-1], _msg("unique_together", lang, others=others), "unique"))
    return errors


def _db_value(column: sa.Column, value: Any) -> Any:
    """A value as the column compares it (dates arrive as ISO text from JSON)."""
    if isinstance(value, str) and isinstance(column.type, sa.Date) and not isinstance(column.type, sa.DateTime):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value


def _exists(conn: Connection, table: sa.Table, value: Any) -> bool:
    return conn.execute(sa.select(table.c.id).where(table.c.id == value)).scalar() is not None


def link_errors(
    conn: Connection,
    registry: Registry,
    fields: list[Field],
    values: dict[str, Any],
    prefix: str,
    skip: set[str],
    lang: str,
) -> list[FieldError]:
    """References, users, departments and files named by a record (or a child row) must exist."""
    errors: list[FieldError] = []
    for f in fields:
        path = f"{prefix}{f.name}"
        value = values.get(f.name)
        if path in skip or value in (None, [], ""):
            continue
        if f.type == "reference":
            target = registry.tables[f.opt("entity")].main
            if not _exists(conn, target, value):
                errors.append(FieldError(path, _msg("missing_ref", lang, value=value), "reference"))
        elif f.type == "user" and not _exists(conn, pt.users, value):
            errors.append(FieldError(path, _msg("missing_user", lang, value=value), "reference"))
        elif f.type == "department" and not _exists(conn, pt.departments, value):
            errors.append(FieldError(path, _msg("missing_department", lang, value=value), "reference"))
        elif f.type in ("file", "image"):
            ids = [item["id"] for item in value]
            found = set(conn.execute(sa.select(pt.files.c.id).where(pt.files.c.id.in_(ids))).scalars())
            missing = [i for i in ids if i not in found]
            if missing:
                errors.append(FieldError(path, _msg("missing_file", lang, value=missing[0]), "reference"))
        elif f.type == "child_table":
            for i, row in enumerate(value):
                errors.extend(link_errors(conn, registry, f.children, row, f"{path}.{i}.", skip, lang))
    return errors
