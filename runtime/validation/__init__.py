"""Record validation: a JSON Schema generated from each entity, checked fast and explained per field."""

from runtime.validation.errors import FieldError
from runtime.validation.schema_gen import entity_schema
from runtime.validation.validator import EntityValidator

__all__ = ["EntityValidator", "FieldError", "entity_schema"]
