"""Run-time edits of option sets (dictionaries) by administrators.

Values that records may already hold are never removed, only deactivated, so old records keep
a readable label and reports keep their categories.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from runtime.blueprints.errors import PackError, PackInvalid, pointer
from runtime.blueprints.model import OptionSet, option_from_raw
from runtime.blueprints.schema import validator_for
from runtime.storage import platform_tables as pt


def _validate(set_id: str, options: list[Any], current: OptionSet) -> list[PackError]:
    file = f"option_sets/{set_id}"
    doc = {**current.raw, "options": options}
    errors = [
        PackError(file, pointer(*e.absolute_path), e.message) for e in validator_for("option_set").iter_errors(doc)
    ]
    if errors:
        return errors
    new = OptionSet(set_id, current.label, [option_from_raw(o) for o in options], doc)
    values = [o.value for o, _ in new.flat()]
    dupes = sorted({v for v in values if values.count(v) > 1})
    errors += [PackError(file, "/options", f"the value '{v}' is used twice") for v in dupes]
    removed = sorted(set(current.values(active_only=False)) - set(values))
    errors += [
        PackError(file, "/options", f"the value '{v}' cannot be removed; set \"active\": false instead")
        for v in removed
    ]
    if not current.raw.get("tree") and any(o.children for o, _ in new.flat()):
        errors.append(PackError(file, "/options", "this option set is not a tree; options cannot have children"))
    if current.raw.get("editable") is False:
        errors.append(PackError(file, "", "this option set is fixed by its pack and cannot be edited"))
    return errors


def save_option_overrides(app: Any, set_id: str, options: list[Any], user_id: int | None) -> dict[str, Any]:
    current = app.registry.option_set(set_id)
    errors = _validate(set_id, options, current)
    if errors:
        raise PackInvalid(errors)
    now = app.clock.now() if hasattr(app, "clock") else datetime.utcnow()
    with app.db.write() as conn:
        table = pt.option_overrides
        done = conn.execute(
            sa.update(table)
            .where(table.c.option_set_id == set_id)
            .values(options=options, updated_at=now, updated_by=user_id)
        ).rowcount
        if not done:
            conn.execute(
                sa.insert(table).values(option_set_id=set_id, options=options, updated_at=now, updated_by=user_id)
            )
    app.registry.reload()
    return app.registry.option_set(set_id).raw
