"""Field types: how each PL-03 type is stored, validated, converted and filtered."""

from runtime.fields.storage import StorageType, storage_type, widening_allowed
from runtime.fields.types import FIELD_TYPES, FieldType, field_type

__all__ = ["FIELD_TYPES", "FieldType", "StorageType", "field_type", "storage_type", "widening_allowed"]
