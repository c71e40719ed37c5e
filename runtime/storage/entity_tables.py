"""SQLAlchemy tables built from entity blueprints: one typed column per field, child tables apart."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from runtime.blueprints.model import Entity, Field
from runtime.fields.storage import storage_type

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


def build_tables(entity: Entity, metadata: sa.MetaData) -> EntityTables:
    """Tables as the blueprint describes them (archived columns are not part of the model)."""
    columns = [field_column(f) for f in entity.fields if f.type != "child_table"]
    main = sa.Table(entity.table_name, metadata, *system_columns(), *columns)
    children = {}
    for child in (f for f in entity.fields if f.type == "child_table"):
        name = entity.child_table_name(child)
        cols = [field_column(f) for f in child.children]
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
            specs.append(IndexSpec(index_name("ux", table, (f.name,)), table, (f.name,), True))
        elif f.indexed:
            specs.append(IndexSpec(index_name("ix", table, (f.name,)), table, (f.name,), False))
    for idx in entity.raw.get("indexes", []):
        cols = tuple(idx["fields"])
        unique = bool(idx.get("unique"))
        specs.append(IndexSpec(index_name("ux" if unique else "ix", table, cols), table, cols, unique))
    return {s.name: s for s in specs}
