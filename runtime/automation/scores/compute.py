"""Computing scores (PL-11): weighted components with recency decay and caps, and threshold grades.

For a score over records R, each component gives a raw value per record:

* ``value``: an expression on the record (``referrals_ytd``, ``beds / 100``);
* ``aggregate``: count/sum/avg/max of rows of another entity pointing at R through ``via``,
  optionally only rows matching ``where`` and dated within ``within_days`` (by ``date_field``).
  One GROUP BY query per component and batch of records: rows are never loaded into Python.

then ``decay`` (half-life in days) multiplies it by 0.5 ** (age / half_life), the age being that of the
record's ``date_field`` (value components) or of the newest aggregated row (aggregates: MAX in the same
query). With ``cap``, the normalised value is min(value, cap) / cap * 100 (0-100), else the value itself.
The score is the sum of normalised value x weight (a negative weight lowers it), rounded to 2 decimals and
raised to ``floor`` when given; the grade is the first
threshold (highest ``min`` first) the score reaches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.automation.scores.where import where_clause
from runtime.automation.scores.wording import condition_words
from runtime.blueprints.model import label_text
from runtime.expressions import ExpressionError, compile_expression


@dataclass
class Result:
    value: float
    grade: str | None
    components: list[dict[str, Any]] = field(default_factory=list)


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | Decimal):
        out = float(value)
        return out if math.isfinite(out) else None
    return None


def as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).replace(tzinfo=None)
        except ValueError:
            return None
    return None


def grade_of(score: dict, value: float) -> str | None:
    grade = score.get("grade")
    if not grade:
        return None
    for step in sorted(grade["thresholds"], key=lambda t: -t["min"]):
        if value >= step["min"]:
            return step["value"]
    return None


def record_columns(app: Any, score: dict) -> list[str]:
    """Columns of the scored entity the components read (values, decay dates) plus the stored outputs."""
    entity = app.registry.entity(score["entity"])
    names = {"id", score["field"]}
    if score.get("grade"):
        names.add(score["grade"]["field"])
    for comp in score["components"]:
        if "value" in comp:
            names |= set(compile_expression(comp["value"]).names)
            if comp.get("decay"):
                names.add(comp["decay"]["date_field"])
    table = app.registry.tables[entity.id].main
    return sorted(n for n in names if n in table.c)


def load_records(app: Any, conn: Connection, score: dict, ids: list[int]) -> dict[int, dict[str, Any]]:
    table = app.registry.tables[score["entity"]].main
    cols = [table.c[n] for n in record_columns(app, score)]
    rows = conn.execute(sa.select(*cols).where(table.c.id.in_(ids)))
    return {int(r.id): dict(r._mapping) for r in rows}


def compute(app: Any, conn: Connection, score: dict, records: dict[int, dict[str, Any]]) -> dict[int, Result]:
    """Score every record of ``records`` (id -> column values) at ``app.clock.now()``."""
    now = app.clock.now()
    scored = app.registry.entity(score["entity"])
    ids = list(records)
    results = {rid: Result(0.0, None) for rid in ids}
    for comp in score["components"]:
        if "aggregate" in comp:
            found = _aggregate(app, conn, comp, ids, now)
        else:
            found = {rid: _value(app, comp, rec) for rid, rec in records.items()}
        for rid in ids:
            raw, latest, _ = found.get(rid, (None, None, None))
            results[rid].components.append(_explain(app, comp, raw, latest, now, scored))
    for result in results.values():
        result.value = round(sum(c["contribution"] for c in result.components), 2)
        if score.get("floor") is not None:  # negative weights may pull the sum below it
            result.value = max(result.value, float(score["floor"]))
        result.grade = grade_of(score, result.value)
    return results


def _value(app: Any, comp: dict, record: dict[str, Any]) -> tuple[float | None, datetime | None, Any]:
    variables = {k: (float(v) if isinstance(v, Decimal) else v) for k, v in record.items()}
    try:
        raw = number(compile_expression(comp["value"]).evaluate(variables, clock=app.clock))
    except ExpressionError:
        raw = None
    latest = as_datetime(record.get(comp["decay"]["date_field"])) if comp.get("decay") else None
    return raw, latest, None


def _aggregate(
    app: Any, conn: Connection, comp: dict, ids: list[int], now: datetime
) -> dict[int, tuple[float | None, datetime | None, Any]]:
    agg = comp["aggregate"]
    entity = app.registry.entity(agg["entity"])
    table = app.registry.tables[entity.id].main
    via = table.c[agg["via"]]
    fn = agg["fn"]
    measured = table.c[agg["field"]] if agg.get("field") else table.c.id
    measure = sa.func.count(measured) if fn == "count" else getattr(sa.func, fn)(measured)
    cols: list[Any] = [via, measure]
    decay = comp.get("decay")
    if decay:
        cols.append(sa.func.max(table.c[decay["date_field"]]))
    q = sa.select(*cols).where(via.in_(ids)).group_by(via)
    if agg.get("within_days"):
        date_col = table.c[agg["date_field"]]
        cutoff: Any = now - timedelta(days=agg["within_days"])
        f = entity.field(agg["date_field"])
        if f is not None and f.type == "date":
            cutoff = cutoff.date()
        q = q.where(date_col >= cutoff)
    if agg.get("where"):
        q = q.where(where_clause(agg["where"], entity, table))
    out: dict[int, tuple[float | None, datetime | None, Any]] = {}
    for row in conn.execute(q):
        out[int(row[0])] = (number(row[1]), as_datetime(row[2]) if decay else None, None)
    if fn == "count":
        for rid in ids:
            out.setdefault(rid, (0.0, None, None))
    return out


def _explain(
    app: Any, comp: dict, raw: float | None, latest: datetime | None, now: datetime, scored: Any
) -> dict[str, Any]:
    decay = comp.get("decay")
    factor = 1.0
    age_days = None
    if decay and raw is not None:
        if latest is None:
            factor = 0.0
        else:
            age_days = max((now - latest).total_seconds() / 86400, 0.0)
            factor = 0.5 ** (age_days / decay["half_life_days"])
    value = (raw or 0.0) * factor
    cap = comp.get("cap")
    normalised = min(max(value, 0.0), cap) / cap * 100 if cap else value
    weight = float(comp.get("weight", 1))
    return {
        "id": comp["id"],
        "label": comp.get("label") or comp["id"],
        "raw": raw,
        "decay": round(factor, 4) if decay else None,
        "normalised": round(normalised, 4),
        "weight": weight,
        "contribution": round(normalised * weight, 4),
        "cap": cap,
        "inputs": _inputs(app, comp, raw, latest, age_days, scored),
    }


def _inputs(
    app: Any, comp: dict, raw: float | None, latest: datetime | None, age: float | None, scored: Any = None
) -> dict[str, str]:
    """What the component read, in words: "12 × Visit in the last 90 days; latest 2026-11-01 (22 days ago)"."""
    shown = "—" if raw is None else (f"{raw:g}" if raw == int(raw) else f"{raw:.2f}")
    if "aggregate" in comp:
        agg = comp["aggregate"]
        entity = app.registry.entity(agg["entity"])
        what = {lang: entity.label_in(lang) for lang in ("zh", "en")}
        if agg.get("field"):
            f = entity.field(agg["field"])
            for lang in what:
                what[lang] += "·" + (f.label_in(lang) if f else agg["field"])
        fn_zh = {"count": "条数", "sum": "合计", "avg": "平均", "max": "最大"}[agg["fn"]]
        days = agg.get("within_days")
        en = f"{shown} × {what['en']}" if agg["fn"] == "count" else f"{agg['fn']} of {what['en']} = {shown}"
        zh = f"{what['zh']}{fn_zh} {shown}"
        if days:
            en += f" in the last {days} days"
            zh = f"近 {days} 天" + zh
        if agg.get("where"):
            en += f" where {condition_words(app.registry, entity, agg['where'], 'en')}"
            zh += f"（条件：{condition_words(app.registry, entity, agg['where'], 'zh')}）"
    else:
        source = comp["value"].strip()
        f = scored.field(source) if scored is not None and source.isidentifier() else None
        en = f"{f.label_in('en') if f else source} = {shown}"
        zh = f"{f.label_in('zh') if f else source} = {shown}"
    if comp.get("decay"):
        hl = comp["decay"]["half_life_days"]
        if latest is None:
            en += "; no date, so nothing counts"
            zh += "；无日期，不计分"
        else:
            day = latest.date().isoformat()
            en += f"; latest {day} ({age:.0f} days ago, half-life {hl} days)"
            zh += f"；最近 {day}（{age:.0f} 天前，半衰期 {hl} 天）"
    return {"zh": zh, "en": en}


def component_label(comp: dict, lang: str) -> str:
    return label_text(comp.get("label"), lang) or comp["id"]
