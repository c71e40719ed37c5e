"""The title a record is shown by, everywhere (page headings, flash messages, search hits, calendars,
home-page schedules, task lists, prints).

Why one place: an entity's title field is often plain text (a patient's name), but some entities are
titled by whom they concern: an appointment or a campaign contact by its patient, a task by its user.
Showing the stored value there gives a bare id ("221") that means nothing to a nurse; the title must be
the referenced record's title (as the reader may see it), the user's or the department's name. Records
already read are titled in one batch: one query per referenced entity, not one per record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runtime.blueprints.model import Entity, label_text
from runtime.records.context import Context
from runtime.records.names import Names

NAMED_TYPES = ("reference", "user", "department")
"""Title fields that hold an id, shown by the name of what it points to (a select shows its label)."""


def record_titles(app: Any, entity: Entity, records: Iterable[dict[str, Any]], ctx: Context) -> dict[Any, str]:
    """record id -> title of records already read (see the module docstring); '#id' when there is none."""
    records = list(records)
    f = entity.field(entity.title_field)
    if f is not None and f.type == "select":  # a points entry titled by its reason: the label, not the code
        oset = app.registry.option_sets.get(f.opt("option_set") or "")
        lang = "en" if ctx.lang == "en" else "zh"
        return {r.get("id"): _text(_option(oset, r.get(f.name), lang), r.get("id")) for r in records}
    if f is None or f.type not in NAMED_TYPES:
        return {r.get("id"): _text(r.get(entity.title_field), r.get("id")) for r in records}
    names = Names(app, ctx).prime([f], records)
    out: dict[Any, str] = {}
    for r in records:
        value = r.get(f.name)
        if not isinstance(value, int) or isinstance(value, bool):
            out[r.get("id")] = _text(value, r.get("id"))
        elif f.type == "reference":
            out[r.get("id")] = names.title(f.opt("entity"), value)
        elif f.type == "user":
            out[r.get("id")] = names.user(value)
        else:
            out[r.get("id")] = names.department(value)
    return out


def record_title(app: Any, entity: Entity, record: dict[str, Any], ctx: Context) -> str:
    """The title of one record already read."""
    return record_titles(app, entity, [record], ctx)[record.get("id")]


def _option(oset: Any, value: Any, lang: str) -> Any:
    opt = oset.find(value) if oset is not None and isinstance(value, str) and value else None
    return label_text(opt.label, lang) if opt is not None else value


def _text(value: Any, record_id: Any) -> str:
    return str(value) if value not in (None, "") else f"#{record_id}"
