"""Which columns an export holds: the view's columns, or the entity's list columns, minus hidden fields.

The same choice the list page makes (ui.layout.list_columns), restated here because the runtime
never imports the ui package; a field the user may not read at all is left out entirely rather
than exported as an empty column, so its existence is not even hinted at.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.blueprints.model import Entity, Field, View
from runtime.permissions.model import HIDDEN

SKIPPED_BY_DEFAULT = frozenset({"child_table", "json", "long_text", "file", "image"})
NEVER = frozenset({"child_table"})
"""Child tables are whole tables: they have no one-cell form."""


@dataclass(frozen=True)
class ExportColumn:
    field: Field
    label: str

    @property
    def name(self) -> str:
        return self.field.name


def list_fields(entity: Entity, view: View | None) -> list[Field]:
    """A view's columns, or every scalar field when the entity has no list view (as on the list page)."""
    if view is not None and view.opt("columns"):
        return [f for f in (entity.field(n) for n in view.opt("columns")) if f is not None]
    return [f for f in entity.fields if f.type not in SKIPPED_BY_DEFAULT] or entity.fields[:1]


def export_columns(entity: Entity, view: View | None, levels: dict[str, str], lang: str) -> list[ExportColumn]:
    """The columns one user's export holds, labelled in their language."""
    return [
        ExportColumn(f, f.label_in(lang))
        for f in list_fields(entity, view)
        if f.type not in NEVER and levels.get(f.name) != HIDDEN
    ]
