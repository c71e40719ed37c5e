"""A validation error belongs to one field (or row cell) so every channel can show it in place."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.blueprints.errors import pointer


@dataclass(frozen=True)
class FieldError:
    field: str
    """The field name, or 'items.2.qty' for a child-table cell, or '' for a record-level problem."""
    message: str
    code: str = "invalid"

    @property
    def pointer(self) -> str:
        return pointer(*self.field.split(".")) if self.field else ""

    def as_dict(self) -> dict:
        return {"field": self.field, "pointer": self.pointer, "code": self.code, "message": self.message}
