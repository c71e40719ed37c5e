"""What publishing a draft would do: the deploy plan in words, and the existing records the new rules refuse.

Limits, on purpose and stated here so nobody reads more into the numbers:
- The plan is `runtime.storage.deploy.plan_deploy` run in a read transaction: exactly what publishing
  would apply, never applied.
- Existing records are checked in Python with the runtime's own validation chain for the NEW entity
  definition (the generated JSON Schema: required, ranges, lengths, patterns, options, formats; then
  computed fields, conditional requiredness and the entity's validation rules), the same chain the
  records service runs on save. Uniqueness and reference-existence checks, and the extra conditions
  and rules of individual forms, are not re-run (they need the new table or a form context).
- Only entities whose validation-relevant definition changed are scanned, at most MAX_SCAN rows each
  (in id order); when a table is larger, "scanned" says how many rows the count covers.
- Option values come from the draft's option sets (administrator overrides of a shipped option set
  are not layered on top in the preview).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from builder.checks import build_pack
from builder.wording import step_summary
from runtime.blueprints.errors import PackInvalid
from runtime.blueprints.model import Entity, Pack, label_text
from runtime.records import logic
from runtime.records.convert import python_values, record_to_json
from runtime.storage.deploy import plan_deploy
from runtime.storage.entity_tables import build_tables
from runtime.validation import EntityValidator, FieldError, entity_schema

if TYPE_CHECKING:
    from builder.workspace import Workspace

MAX_SCAN = 50_000
BATCH = 500
SAMPLES = 5


def preview_draft(ws: Workspace, pack_id: str, *, lang: str = "zh") -> dict:
    """{"steps", "problems", "errors", "invalid_records"}; a draft with errors has no plan."""
    out: dict[str, Any] = {"steps": [], "problems": [], "errors": [], "invalid_records": []}
    with ws.db.read() as conn:
        draft = ws.draft_in(conn, pack_id)
        try:
            pack = build_pack(conn, pack_id, draft.documents, draft.workflows)
            plan = plan_deploy(conn, pack)
        except PackInvalid as exc:
            out["errors"] = [e.as_dict() for e in exc.errors]
            return out
        known = [*pack.entities.values(), *ws.app.registry.entities.values()]  # the old ones name archived columns
        out["steps"] = [
            {
                "action": s.action,
                "table": s.table,
                "column": s.column,
                "description": s.description,
                "summary": step_summary(s, known),
            }
            for s in plan.ordered()
        ]
        out["problems"] = list(plan.problems)
        out["invalid_records"] = invalid_records(ws.app, conn, pack, lang=lang)
    return out


def invalid_records(app: Any, conn: Connection, pack: Pack, *, lang: str = "zh") -> list[dict]:
    """Per changed entity: how many stored records the new definition refuses, with a few samples."""
    found = []
    options = _option_values(app, pack)
    for entity_id, new in sorted(pack.entities.items()):
        old = app.registry.entities.get(entity_id)
        if old is None or old.pack_id != pack.id:
            continue  # a new entity has no records yet
        if _signature(old, app.registry.option_values) == _signature(new, options):
            continue
        report = _scan(app, conn, old, new, options, lang)
        if report["count"]:
            found.append(report)
    return found


def _option_values(app: Any, pack: Pack) -> Callable[[str], list[str]]:
    def values(set_id: str) -> list[str]:
        oset = pack.option_sets.get(set_id)
        return oset.values() if oset is not None else app.registry.option_values(set_id)

    return values


def _signature(entity: Entity, options: Callable[[str], list[str]]) -> tuple:
    """Everything the validation chain reads; equal signatures cannot refuse different records."""
    conditions = [(f.name, f.opt("required_when"), f.opt("visible_when"), f.opt("expression")) for f in entity.fields]
    return (repr(entity_schema(entity, options)), repr(entity.raw.get("validations")), repr(conditions))


def _scan(app: Any, conn: Connection, old: Entity, new: Entity, options: Callable[[str], list[str]], lang: str) -> dict:
    validator = EntityValidator(entity_schema(new, options))
    tables = build_tables(old, sa.MetaData())  # the stored (old) shape of the rows
    main = tables.main
    count = scanned = 0
    samples: list[dict] = []
    last = None
    while scanned < MAX_SCAN:
        q = sa.select(main).order_by(main.c.id).limit(min(BATCH, MAX_SCAN - scanned))
        rows = conn.execute(q if last is None else q.where(main.c.id > last)).all()
        if not rows:
            break
        last = rows[-1].id
        scanned += len(rows)
        children = _children(conn, tables.children, [r.id for r in rows])
        for row in rows:
            kids = {name: by_parent.get(row.id, []) for name, by_parent in children.items()}
            record = record_to_json(old, row, kids, app.cipher)
            errors = record_errors(app, new, record, validator, lang)
            if errors:
                count += 1
                if len(samples) < SAMPLES:
                    samples.append(
                        {
                            "id": row.id,
                            "title": _title(old, record),
                            "errors": [{"field": e.field, "message": e.message} for e in errors],
                        }
                    )
    return {
        "entity": new.id,
        "label": dict(new.label) if isinstance(new.label, dict) else {"zh": new.label, "en": new.label},
        "count": count,
        "scanned": scanned,
        "samples": samples,
    }


def _children(conn: Connection, child_tables: dict[str, sa.Table], ids: list[int]) -> dict[str, dict[int, list]]:
    out: dict[str, dict[int, list]] = {}
    for name, t in child_tables.items():
        by_parent: dict[int, list] = {}
        for r in conn.execute(sa.select(t).where(t.c.parent_id.in_(ids)).order_by(t.c.parent_id, t.c.position)):
            by_parent.setdefault(r.parent_id, []).append(r)
        out[name] = by_parent
    return out


def record_errors(
    app: Any, entity: Entity, stored: dict[str, Any], validator: EntityValidator, lang: str
) -> list[FieldError]:
    """The records service's save-time checks (without uniqueness/links) of a stored record under `entity`."""
    record = {f.name: stored.get(f.name) for f in entity.fields if not f.is_system_filled}
    present = {k: v for k, v in record.items() if v is not None}  # an empty field reads "required", not "type"
    errors = validator.errors(present, lang)
    errors = [_pattern_message(entity, e, lang) for e in errors]
    bad = {e.field.split(".")[0] for e in errors}
    values = python_values(entity.fields, {k: v for k, v in record.items() if k not in bad})
    computed, computed_errors = logic.compute_fields(entity, values, app.clock, lang)
    values.update(computed)
    states = logic.field_states(entity, None, values, app.clock)
    errors += [e for e in logic.conditional_errors(entity, states, record, lang) if e.field not in bad]
    errors += computed_errors
    if not errors:
        errors += logic.rule_errors(entity, None, values, app.clock, lang)
    return errors


def _pattern_message(entity: Entity, error: FieldError, lang: str) -> FieldError:
    f = entity.field(error.field)
    if error.code == "pattern" and f is not None and f.opt("pattern_message"):
        return FieldError(error.field, label_text(f.opt("pattern_message"), lang), error.code)
    return error


def _title(entity: Entity, record: dict[str, Any]) -> str:
    value = record.get(entity.title_field)
    return str(value) if value not in (None, "") else f"#{record.get('id')}"
