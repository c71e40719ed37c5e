"""ECharts options built from a report result (the page hands them to echarts.setOption unchanged).

bar / line / stacked: periods on the x axis (or the first dimension without a grain), one series per value
of the first dimension; pie: one slice per dimension value (or per period); number: the total with its
change against the previous period (or the same period last year).
"""

from __future__ import annotations

from typing import Any

from runtime.reports.engine import ReportResult
from runtime.reports.output import cell_text


def measure_of(result: ReportResult, measure: str | None) -> str:
    shown = [m.id for m in result.report.shown if m.id not in result.masked]
    if measure in shown:
        return measure  # type: ignore[return-value]
    chart = result.report.chart.get("measure")
    return chart if chart in shown else (shown[0] if shown else "")


def option(
    result: ReportResult, view: str, measure: str | None = None, measures: list[str] | None = None
) -> dict[str, Any]:
    """`measures` (a dashboard item's) draws one series per measure instead of one per dimension value, e.g.
    the kinds of business volume stacked month by month; reports without a dimension only."""
    mid = measure_of(result, measure)
    rows = result.body
    dims = result.report.dimensions
    shown = [m for m in (measures or []) if m == measure_of(result, m)]
    if shown and not dims and view != "pie":
        return _per_measure(result, view, shown)
    if view == "pie":
        key = "rk_d0" if dims else "rk_p"
        agg: dict[str, float] = {}
        for r in rows:
            name = str(r.values.get(key, ""))
            agg[name] = agg.get(name, 0) + float(r.values.get(mid) or 0)
        data = [{"name": k, "value": round(v, 4)} for k, v in agg.items()]
        return {"tooltip": {"trigger": "item"}, "legend": {"bottom": 0, "type": "scroll"},
                "series": [{"type": "pie", "radius": ["35%", "65%"], "data": data}]}  # fmt: skip
    if result.grain:
        xs = list(dict.fromkeys(str(r.values.get("rk_p")) for r in rows))
        groups: dict[str, dict[str, Any]] = {}
        for r in rows:
            name = str(r.values.get("rk_d0")) if dims else result.title
            groups.setdefault(name, {})[str(r.values.get("rk_p"))] = r.values.get(mid)
        series_data = {name: [vals.get(x) for x in xs] for name, vals in groups.items()}
    else:
        xs = [str(r.values.get("rk_d0", result.title)) for r in rows]
        series_data = {result.title: [r.values.get(mid) for r in rows]}
    kind = "line" if view == "line" else "bar"
    series = []
    for name, data in series_data.items():
        s: dict[str, Any] = {"name": name, "type": kind, "data": data}
        if view == "stacked":
            s["stack"] = "total"
        series.append(s)
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "type": "scroll"},
        "grid": {"left": 48, "right": 16, "top": 24, "bottom": 48},
        "xAxis": {"type": "category", "data": xs},
        "yAxis": {"type": "value"},
        "series": series,
    }


def _per_measure(result: ReportResult, view: str, measures: list[str]) -> dict[str, Any]:
    rows = result.body
    xs = [str(r.values.get("rk_p" if result.grain else "rk_d0", result.title)) for r in rows]
    labels = {c.key: c.label for c in result.columns}
    kind = "line" if view == "line" else "bar"
    series = []
    for m in measures:
        s: dict[str, Any] = {"name": labels.get(m, m), "type": kind, "data": [r.values.get(m) for r in rows]}
        if view == "stacked":
            s["stack"] = "total"
        series.append(s)
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "type": "scroll"},
        "grid": {"left": 48, "right": 16, "top": 24, "bottom": 48},
        "xAxis": {"type": "category", "data": xs},
        "yAxis": {"type": "value"},
        "series": series,
    }


def number_card(result: ReportResult, measure: str | None = None) -> dict[str, Any]:
    mid = measure_of(result, measure)
    row = result.total or (result.rows[-1] if result.rows else None)
    col = next((c for c in result.columns if c.key == mid), None)
    if row is None or col is None:
        return {"value": "—", "raw": None, "change": None, "label": ""}
    change_key = next((f"{mid}__{k}_pct" for k in ("mom", "yoy") if f"{mid}__{k}_pct" in row.values), None)
    change_col = next((c for c in result.columns if c.key == change_key), None)
    change = row.values.get(change_key) if change_key else None
    return {
        "value": cell_text(row.values.get(mid), col),
        "raw": row.values.get(mid),
        "label": col.label,
        "change": cell_text(change, change_col) if change_col and change is not None else None,
        "up": change is not None and change >= 0,
        "change_label": change_col.label if change_col else "",
        "drill": row.drill,
    }
