"""`report_yoy`: year-over-year visits by department and month over the bulk-loaded `visit` table,
through the report engine against the same numbers computed from hand-written SQL in the same run.

Report: 2024-01-01 to 2024-12-31, grain month, dimension department, measure count, compare yoy,
no subtotals (the grand total with its YoY stays). Ours: `app.reports.run(report, ctx, params)`
(blueprint -> SQLAlchemy Core, the grouped query over 2023-2024, the two total queries, YoY matching,
labels and drill-down query strings). Baseline: the grouped query and one total query written by hand
with `text()`, rows matched into YoY pairs in Python. Both must give the same numbers (checked first).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text

from bench.harness import Result, interleaved_medians, latency_result
from bench.setup_data import ENTITY
from runtime.records.context import Context
from runtime.reports.model import compile_report
from runtime.services import Tessera

TARGET = 0.77  # within 1.3x of the hand-written SQL
CTX = Context(channel="system", lang="en", is_admin=True)
PARAMS = {"from": "2024-01-01", "to": "2024-12-31"}
DOC = {
    "id": "bench_yoy",
    "label": "Visits YoY by department and month",
    "entity": ENTITY,
    "date_field": "visit_date",
    "grain": "month",
    "dimensions": [{"field": "department"}],
    "measures": [{"id": "visits", "type": "count"}],
    "compare": ["yoy"],
    "subtotals": False,
}
MONTH = {
    "sqlite": "strftime('%Y-%m-01', visit_date)",
    "postgresql": "CAST(date_trunc('month', CAST(visit_date AS timestamp)) AS date)",
}


def _bounds(dialect: str) -> dict[str, Any]:
    a, mid, b = date(2023, 1, 1), date(2024, 1, 1), date(2025, 1, 1)
    if dialect == "sqlite":
        return {"a": a.isoformat(), "mid": mid.isoformat(), "b": b.isoformat()}
    return {"a": a, "mid": mid, "b": b}


def hand_written(tessera: Tessera) -> dict[tuple, tuple]:
    """(month, department) -> (visits, visits a year earlier), plus ('total',) -> the totals."""
    dialect = tessera.db.dialect
    grouped = text(
        f"SELECT {MONTH[dialect]} AS p, department, count(*) AS n FROM e_{ENTITY}"
        " WHERE visit_date >= :a AND visit_date < :b GROUP BY 1, 2"
    )
    totals = text(
        "SELECT count(CASE WHEN visit_date >= :mid THEN 1 END), count(CASE WHEN visit_date < :mid THEN 1 END)"
        f" FROM e_{ENTITY} WHERE visit_date >= :a AND visit_date < :b"
    )
    params = _bounds(dialect)
    with tessera.db.engine.connect() as conn:
        rows = conn.execute(grouped, params).all()
        cur, prev = conn.execute(totals, params).one()
    counts = {(str(p)[:7], d): n for p, d, n in rows}
    out: dict[tuple, tuple] = {}
    for (month, dept), n in counts.items():
        if month >= "2024":
            out[(month, dept)] = (n, counts.get((f"{int(month[:4]) - 1}{month[4:]}", dept), 0))
    out[("total",)] = (cur, prev)
    return out


def ours(tessera: Tessera, report: Any) -> dict[tuple, tuple]:
    result = tessera.reports.run(report, CTX, PARAMS)
    out: dict[tuple, tuple] = {}
    for r in result.rows:
        key = ("total",) if r.level == "total" else (r.keys["rk_p"].isoformat()[:7], r.keys["rk_d0"])
        if r.level == "row" and r.values["visits"] == 0 and not r.values["visits__yoy"]:
            continue  # empty cells the hand-written query does not produce
        out[key] = (r.values["visits"], r.values["visits__yoy"])
    return out


def run_report(tessera: Tessera, backend: str, repeats: int = 30) -> Result:
    registry = tessera.registry
    report, problems = compile_report(DOC, registry.entity(ENTITY), registry.option_sets)
    assert report is not None, problems
    same = ours(tessera, report) == hand_written(tessera)
    timing = interleaved_medians(
        {"ours": lambda: tessera.reports.run(report, CTX, PARAMS), "baseline": lambda: hand_written(tessera)},
        repeats,
        warmup=2,
    )
    return latency_result(
        "report_yoy",
        backend,
        timing["ours"]["median"],
        timing["baseline"]["median"],
        TARGET,
        same_rows=same,
        spreads=timing,
    )
