"""Column storage per field, as a small comparable signature.

The migration planner compares signatures, not SQLAlchemy objects: two signatures tell
whether a change is nothing, a safe widening (VARCHAR(50) -> VARCHAR(200), integer -> decimal)
or an incompatible change that must not be applied silently.

A `sensitive` field is stored encrypted (runtime.security): its column holds ciphertext, which is
longer than the value, so it is TEXT whatever the field type, and a second column
`<field>__bidx` holds a keyed blind index for exact-match search and unique checks. Both facts
are part of the signature so that the planner sees a field becoming (or ceasing to be) sensitive.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from runtime.blueprints.model import Field


@dataclass(frozen=True)
class StorageType:
    kind: str  # string, text, bigint, smallint, numeric, boolean, date, datetime, time, json
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    encrypted: bool = False
    """Ciphertext of a sensitive field (kind is then always text), with a blind-index column beside it."""

    def sa_type(self) -> sa.types.TypeEngine:
        match self.kind:
            case "string":
                return sa.String(self.length)
            case "text":
                return sa.Text()
            case "bigint":
                return sa.BigInteger()
            case "smallint":
                return sa.SmallInteger()
            case "numeric":
                return sa.Numeric(self.precision, self.scale, asdecimal=True)
            case "boolean":
                return sa.Boolean()
            case "date":
                return sa.Date()
            case "datetime":
                return sa.DateTime()
            case "time":
                return sa.Time()
            case "json":
                # JSONB on PostgreSQL: containment filters (tags contains X) and GIN indexes need it
                return sa.JSON().with_variant(JSONB(), "postgresql")
        raise ValueError(f"unknown storage kind {self.kind}")

    def describe(self) -> str:
        if self.encrypted:
            return "encrypted text"
        if self.kind == "string":
            return f"text up to {self.length} characters"
        if self.kind == "numeric":
            return f"number with {self.scale} decimals"
        return {"text": "long text", "bigint": "whole number", "smallint": "small whole number"}.get(
            self.kind, self.kind
        )


_NUMERIC_RANK = {"smallint": 0, "bigint": 1, "numeric": 2}

ENCRYPTED = StorageType("text", encrypted=True)
BLIND_INDEX = StorageType("string", 64)
"""HMAC-SHA256 truncated to 32 hex characters; 64 leaves room for a longer digest later."""
BLIND_INDEX_SUFFIX = "__bidx"
ENCRYPTABLE_TYPES = ("text", "long_text", "phone", "email", "cn_id", "select")
"""Field types whose values are strings typed in by people: the ones encryption at rest supports.
Numbers, dates and lists would lose their column type (range checks, sorting) for little gain,
and computed or auto-numbered values are produced by the runtime, not entered."""


def blind_index_column(name: str) -> str:
    return f"{name}{BLIND_INDEX_SUFFIX}"


def is_encrypted(f: Field) -> bool:
    """Stored as ciphertext: read, written, searched and migrated through runtime.security."""
    return f.sensitive and f.type in ENCRYPTABLE_TYPES


def storage_type(f: Field) -> StorageType | None:
    """The column type of a field; None for child tables, which get a table of their own."""
    return ENCRYPTED if is_encrypted(f) else plain_storage_type(f)


def plain_storage_type(f: Field) -> StorageType | None:
    """The column type the field would have if it were not sensitive (what its decrypted values fit)."""
    t = f.type
    if t == "computed":
        result = f.opt("result_type", "text")
        return {
            "text": StorageType("string", 500),
            "integer": StorageType("bigint"),
            "decimal": StorageType("numeric", precision=20, scale=f.opt("decimals", 4)),
            "date": StorageType("date"),
            "datetime": StorageType("datetime"),
            "boolean": StorageType("boolean"),
        }[result]
    if t == "child_table":
        return None
    if t == "text":
        return StorageType("string", f.opt("max_length", 255))
    if t == "long_text":
        return StorageType("text")
    if t in ("integer", "reference", "user", "department"):
        return StorageType("bigint")
    if t == "decimal":
        return StorageType("numeric", precision=20, scale=f.opt("decimals", 2))
    if t == "money":
        return StorageType("numeric", precision=18, scale=f.opt("decimals", 2))
    if t == "percent":
        return StorageType("numeric", precision=9, scale=f.opt("decimals", 2))
    if t in ("rating", "nps"):
        return StorageType("smallint")
    if t == "boolean":
        return StorageType("boolean")
    if t == "date":
        return StorageType("date")
    if t == "datetime":
        return StorageType("datetime")
    if t == "time":
        return StorageType("time")
    if t in ("select",):
        return StorageType("string", 64)
    if t == "phone":
        return StorageType("string", 32)
    if t == "email":
        return StorageType("string", 254)
    if t == "cn_id":
        return StorageType("string", 18)
    if t == "autonumber":
        return StorageType("string", 64)
    if t in ("multiselect", "tags", "region", "file", "image", "json"):
        return StorageType("json")
    raise ValueError(f"no storage for field type {t}")


def widening_allowed(old: StorageType, new: StorageType) -> bool:
    """True when every old value fits the new column unchanged."""
    if old == new:
        return True
    if old.encrypted or new.encrypted:
        return False  # values change form (ciphertext <-> plaintext): an encrypt or decrypt step, not a widening
    if old.kind == "string" and new.kind == "string":
        return (new.length or 0) >= (old.length or 0)
    if old.kind == "string" and new.kind == "text":
        return True
    if old.kind in _NUMERIC_RANK and new.kind in _NUMERIC_RANK:
        if new.kind == "numeric" and old.kind == "numeric":
            return (new.scale or 0) >= (old.scale or 0) and (new.precision or 0) - (new.scale or 0) >= (
                old.precision or 0
            ) - (old.scale or 0)
        return _NUMERIC_RANK[new.kind] >= _NUMERIC_RANK[old.kind]
    return False
