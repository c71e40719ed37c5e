"""Form logic shared by the server-side form re-evaluation and the write path: defaults, computed
fields, conditional visibility/requiredness/read-only, and cross-field validation rules.

The same functions run when the browser asks "what does the form look like now?" and when the
record is finally saved, so a field the user saw as optional can never be refused as required.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from runtime.blueprints.model import Entity, Field, Form, label_text
from runtime.clock import Clock
from runtime.expressions import ExpressionError, evaluate
from runtime.validation.errors import FieldError


@dataclass(frozen=True)
class FieldState:
    visible: bool = True
    required: bool = False
    read_only: bool = False


def _truthy(source: str | None, values: dict[str, Any], clock: Clock, default: bool) -> bool:
    if not source:
        return default
    try:
        return bool(evaluate(source, values, clock=clock))
    except ExpressionError:
        return default


def field_states(entity: Entity, form: Form | None, values: dict[str, Any], clock: Clock) -> dict[str, FieldState]:
    """Visibility, requiredness and read-only state of every field for the current values."""
    states: dict[str, FieldState] = {}
    for f in entity.fields:
        conds = {
            **{k: f.opt(k) for k in ("visible_when", "required_when", "read_only_when") if f.opt(k)},
            **(form.conditions(f.name) if form else {}),
        }
        visible = _truthy(conds.get("visible_when"), values, clock, True)
        required = visible and (f.required or _truthy(conds.get("required_when"), values, clock, False))
        read_only = f.read_only or f.is_system_filled or _truthy(conds.get("read_only_when"), values, clock, False)
        states[f.name] = FieldState(visible, required and not f.is_system_filled, read_only)
    if form:
        for tab in form.tabs:
            for section in tab.sections:
                if section.visible_when and not _truthy(section.visible_when, values, clock, True):
                    for name in section.fields:
                        states[name] = FieldState(False, False, states[name].read_only)
    return states


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def apply_defaults(entity: Entity, data: dict[str, Any], clock: Clock) -> dict[str, Any]:
    """Fill fields the client did not send with their literal or expression default (create only)."""
    out = dict(data)
    for f in entity.fields:
        if f.name in out or f.is_system_filled or "default" not in f.raw:
            continue
        default = f.raw["default"]
        if isinstance(default, dict) and "expression" in default and f.type != "json":
            try:
                out[f.name] = _json_value(evaluate(default["expression"], {}, clock=clock))
            except ExpressionError:
                continue
        else:
            out[f.name] = default
    return out


def _coerce_result(f: Field, value: Any) -> Any:
    if value is None:
        return None
    result = f.opt("result_type", "text")
    if result == "integer":
        return int(value)
    if result == "decimal":
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-f.opt("decimals", 4)))
    if result == "boolean":
        return bool(value)
    if result == "date":
        return value.date() if isinstance(value, datetime) else value
    if result == "datetime":
        return value
    return str(value)[:500]


def compute_fields(
    entity: Entity, values: dict[str, Any], clock: Clock, lang: str
) -> tuple[dict[str, Any], list[FieldError]]:
    """Evaluate computed fields in declaration order; later ones may use earlier results."""
    results: dict[str, Any] = {}
    errors: list[FieldError] = []
    scope = dict(values)
    for f in entity.fields:
        if f.type != "computed":
            continue
        try:
            value = _coerce_result(f, evaluate(f.opt("expression"), scope, clock=clock))
        except (ExpressionError, ValueError, TypeError, ArithmeticError) as exc:
            msg = exc.message if isinstance(exc, ExpressionError) else str(exc)
            errors.append(
                FieldError(f.name, ("无法计算：" if lang == "zh" else "cannot be computed: ") + msg, "computed")
            )
            value = None
        results[f.name] = value
        scope[f.name] = value
    return results, errors


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def conditional_errors(
    entity: Entity, states: dict[str, FieldState], data: dict[str, Any], lang: str
) -> list[FieldError]:
    """Fields required by a condition (or by the blueprint) but left empty."""
    message = "必填" if lang == "zh" else "is required"
    return [
        FieldError(f.name, message, "required")
        for f in entity.fields
        if states[f.name].required and is_empty(data.get(f.name))
    ]


def rule_errors(entity: Entity, form: Form | None, values: dict[str, Any], clock: Clock, lang: str) -> list[FieldError]:
    """Cross-field validation rules of the entity and the form: each must be true when it applies."""
    rules = [*entity.raw.get("validations", []), *(form.raw.get("validations", []) if form else [])]
    errors: list[FieldError] = []
    for rule in rules:
        if rule.get("when") and not _truthy(rule["when"], values, clock, False):
            continue
        try:
            ok = bool(evaluate(rule["rule"], values, clock=clock))
        except ExpressionError:
            ok = False
        if not ok:
            errors.append(FieldError(rule.get("field", ""), label_text(rule["message"], lang), "rule"))
    return errors
