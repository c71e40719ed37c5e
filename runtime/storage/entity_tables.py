"""SQLAlchemy tables built from entity blueprints: one typed column per field, child tables apart.

A sensitive field has a second column, its blind index (see runtime.fields.storage): indexes that
serve equality on the field (unique, indexed, composite) are built on the blind index instead,
because ciphertext is random per value and neither equal nor ordered like the values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from runtime.blueprints.model import Entity, Field
from runtime.fields.storage import BLIND_INDEX, blind_index_column, is_encrypted, storage_type

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


@dataclass
class EntityTables:
    main: sa.Table
    children: dict[str, sa.Table]


@dataclass(frozen=True)
class IndexSpec:
    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool


def index_name(prefix: str, table: str, columns: tuple[str, ...]) -> str:
    """Deterministic index names that fit PostgreSQL's 63-character limit."""
    name = f"{prefix}_{table}_{'_'.join(columns)}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:54]}_{digest}"


def system_columns() -> list[sa.Column]:
    return [
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("version", sa.Integer, nullable=False, default=1),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.BigInteger),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.BigInteger),
        sa.Column("owner_id", sa.BigInteger),
        sa.Column("department_id", sa.BigInteger),
    ]


def child_system_columns(parent_table: str) -> list[sa.Column]:
    return [
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("parent_id", sa.BigInteger, sa.ForeignKey(f"{parent_table}.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
    ]


def field_column(f: Field) -> sa.Column:
    st = storage_type(f)
    assert st is not None, f"{f.name} has no column"
    return sa.Column(f.name, st.sa_type(), nullable=True)


def field_columns(f: Field) -> list[sa.Column]:
    """The field's column, plus its blind-index column when it is encrypted."""
    if not is_encrypted(f):
        return [field_column(f)]
    return [field_column(f), sa.Column(blind_index_column(f.name), BLIND_INDEX.sa_type(), nullable=True)]


def index_column(f: Field | None, name: str) -> str:
    """The column an equality index on a field covers: the blind index for an encrypted field."""
    return blind_index_column(name) if f is not None and is_encrypted(f) else name


def build_tables(entity: Entity, metadata: sa.MetaData) -> EntityTables:
    """Tables as the blueprint describes them (archived columns are not part of the model)."""
    columns = [c for f in entity.fields if f.type != "child_table" for c in field_columns(f)]
    main = sa.Table(entity.table_name, metadata, *system_columns(), *columns)
    children = {}
    for child in (f for f in entity.fields if f.type == "child_table"):
        name = entity.child_table_name(child)
        cols = [c for f in child.children for c in field_columns(f)]
        children[child.name] = sa.Table(name, metadata, *child_system_columns(entity.table_name), *cols)
    return EntityTables(main, children)


def desired_indexes(entity: Entity) -> dict[str, IndexSpec]:
    """Every index an entity's tables should have, by name."""
    table = entity.table_name
    specs: list[IndexSpec] = [
        IndexSpec(index_name("ix", table, ("owner_id",)), table, ("owner_id",), False),
        IndexSpec(index_name("ix", table, ("department_id",)), table, ("department_id",), False),
        IndexSpec(index_name("ix", table, ("updated_at",)), table, ("updated_at",), False),
    ]
    for f in entity.fields:
        if f.type == "child_table":
            child = entity.child_table_name(f)
            specs.append(IndexSpec(index_name("ix", child, ("parent_id",)), child, ("parent_id",), False))
        elif f.unique or f.type == "autonumber":
            specs.append(IndexSpec(index_name("ux", table, (f.name,)), table, (index_column(f, f.name),), True))
        elif f.indexed or is_encrypted(f):  # exact-match search on an encrypted field goes through its index
            specs.append(IndexSpec(index_name("ix", table, (f.name,)), table, (index_column(f, f.name),), False))
    for idx in entity.raw.get("indexes", []):
        names = tuple(idx["fields"])
        cols = tuple(index_column(entity.field(n), n) for n in names)
        unique = bool(idx.get("unique"))
        specs.append(IndexSpec(index_name("ux" if unique else "ix", table, names), table, cols, unique))
    return {s.name: s for s in specs}
