"""Cross-checks of score documents once the pack is built: every entity, field, expression and filter a
score names must exist and fit (a number field for the score, a reference back for an aggregate, a date
for decay), so a typo fails the deploy with the file and JSON pointer instead of a wrong score later."""

from __future__ import annotations

from typing import Any

from runtime.automation.scores.where import SYSTEM_COLUMNS, check_where
from runtime.blueprints.errors import PackError, pointer
from runtime.blueprints.model import Entity
from runtime.expressions import check_expression

NUMBER_TYPES = ("integer", "decimal", "money", "percent", "rating", "nps")
DATE_TYPES = ("date", "datetime")


def _field_type(entity: Entity, name: str) -> str | None:
    if name in ("created_at", "updated_at"):
        return "datetime"
    f = entity.field(name)
    if f is None:
        return None
    return f.raw.get("result_type", "decimal") if f.type == "computed" else f.type


def check_scores(pack: Any, docs: dict[str, dict]) -> list[PackError]:
    errors: list[PackError] = []
    for rel, doc in docs.items():

        def err(msg: str, *parts: object, rel: str = rel) -> None:
            errors.append(PackError(rel, pointer(*parts), msg))

        entity = pack.entities.get(doc["entity"])
        if entity is None:
            err(
                f"unknown entity '{doc['entity']}' (entities of this pack: {', '.join(sorted(pack.entities))})",
                "entity",
            )
            continue
        if _field_type(entity, doc["field"]) not in NUMBER_TYPES:
            err(f"'{doc['field']}' must be a number field of '{entity.id}' (it stores the score)", "field")
        names = set(entity.field_names) | set(SYSTEM_COLUMNS)
        for i, comp in enumerate(doc["components"]):
            decay_entity = entity
            if "value" in comp:
                for problem in check_expression(comp["value"], names):
                    err(problem, "components", i, "value")
            else:
                agg = comp["aggregate"]
                other = pack.entities.get(agg["entity"])
                if other is None:
                    err(f"unknown entity '{agg['entity']}'", "components", i, "aggregate", "entity")
                    continue
                decay_entity = other
                via = other.field(agg["via"])
                if via is None or via.type != "reference" or via.opt("entity") != entity.id:
                    err(
                        f"'{agg['via']}' must be a reference field of '{other.id}' pointing at '{entity.id}'",
                        "components",
                        i,
                        "aggregate",
                        "via",
                    )
                if agg["fn"] != "count" and not agg.get("field"):
                    err(f"'{agg['fn']}' needs the number field to aggregate", "components", i, "aggregate")
                if agg.get("field") and agg["fn"] != "count" and _field_type(other, agg["field"]) not in NUMBER_TYPES:
                    err(
                        f"'{agg['field']}' must be a number field of '{other.id}'",
                        "components",
                        i,
                        "aggregate",
                        "field",
                    )
                if agg.get("field") and other.field(agg["field"]) is None:
                    err(f"'{agg['field']}' is not a field of '{other.id}'", "components", i, "aggregate", "field")
                if agg.get("within_days") and _field_type(other, agg.get("date_field", "")) not in DATE_TYPES:
                    err(
                        f"within_days needs date_field, a date or datetime field of '{other.id}'",
                        "components",
                        i,
                        "aggregate",
                        "date_field",
                    )
                if agg.get("where"):
                    problem = check_where(agg["where"], other)
                    if problem:
                        err(problem, "components", i, "aggregate", "where")
            decay = comp.get("decay")
            if decay and _field_type(decay_entity, decay["date_field"]) not in DATE_TYPES:
                err(
                    f"'{decay['date_field']}' must be a date or datetime field of '{decay_entity.id}'",
                    "components",
                    i,
                    "decay",
                    "date_field",
                )
        grade = doc.get("grade")
        if grade:
            f = entity.field(grade["field"])
            if f is None or f.type not in ("text", "select"):
                err(f"'{grade['field']}' must be a text or select field of '{entity.id}'", "grade", "field")
            elif f.type == "select" and f.opt("option_set") in pack.option_sets:
                allowed = set(pack.option_sets[f.opt("option_set")].values(active_only=False))
                for j, step in enumerate(grade["thresholds"]):
                    if step["value"] not in allowed:
                        err(f"'{step['value']}' is not an option of '{f.opt('option_set')}'", "grade", "thresholds", j)
        for j, watch in enumerate((doc.get("recompute") or {}).get("on_change_of", [])):
            other = pack.entities.get(watch["entity"])
            if other is None:
                err(f"unknown entity '{watch['entity']}'", "recompute", "on_change_of", j, "entity")
                continue
            for name in watch.get("fields", []):
                if other.field(name) is None:
                    err(f"'{name}' is not a field of '{other.id}'", "recompute", "on_change_of", j, "fields")
    return errors
