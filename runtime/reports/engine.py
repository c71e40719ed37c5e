"""Run a report for a viewer: parameters, data scope and field rights, grouped queries, comparisons, totals.

Every number passes the viewer's data scope (the records service's read-scope hooks, the same rows the
records list shows, so a drill-down lists exactly the records behind a cell) and needs the `analyse`
action on the entity. A measure over a field the viewer may not read in full is masked (no number, a
note saying why); a dimension or parameter on such a field is refused, since its values would show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from runtime.blueprints.model import SYSTEM_FIELDS, label_text
from runtime.errors import BadRequest, Forbidden, NotFound
from runtime.permissions.model import FULL
from runtime.records.context import Context
from runtime.records.names import department_names, user_names
from runtime.records.query import Filter, parse_filter
from runtime.reports import periods as P
from runtime.reports.model import Dimension, Measure, Report, ReportInvalid, compile_report
from runtime.reports.sql import QueryBuilder, as_number, rollup_map

YES_NO = {"zh": ("是", "否"), "en": ("Yes", "No")}
NONE_LABEL = {"zh": "（空）", "en": "(none)"}
TOTAL = {"zh": "合计", "en": "Total"}
SUBTOTAL = {"zh": "小计", "en": "Subtotal"}
COMPARE_LABEL = {
    "yoy": {"zh": "去年同期", "en": "Same period last year"},
    "yoy_pct": {"zh": "同比", "en": "YoY"},
    "mom": {"zh": "上期", "en": "Previous period"},
    "mom_pct": {"zh": "环比", "en": "MoM"},
}
MASKED_NOTE = {
    "zh": "无权查看字段“{field}”，指标“{measure}”不显示",
    "en": "you may not read the field '{field}', so '{measure}' is not shown",
}


@dataclass
class Column:
    key: str
    label: str
    kind: str  # dim, period, measure, compare
    format: str  # text, int, number, percent, pct_change, points
    measure: str | None = None
    decimals: int = 0


@dataclass
class Row:
    level: str  # row, subtotal, total
    keys: dict[str, Any]
    """Raw group values: rk_p (period start date), rk_d0..."""
    values: dict[str, Any]
    """Column key -> number, label text or None."""
    drill: str | None = None
    """records list query string behind this row (UI: /r/<entity>?..., API: /api/v1/records/<entity>?...)."""
    drills: dict[str, str] = field(default_factory=dict)
    """measure id -> query string of the records behind that cell, when it counts a subset (`where`)."""


@dataclass
class ReportResult:
    report: Report
    title: str
    columns: list[Column]
    rows: list[Row]
    window: P.Range
    grain: str | None
    params: dict[str, str]
    notes: list[str] = field(default_factory=list)
    masked: set[str] = field(default_factory=set)

    @property
    def body(self) -> list[Row]:
        return [r for r in self.rows if r.level == "row"]

    @property
    def total(self) -> Row | None:
        return next((r for r in self.rows if r.level == "total"), None)


class ReportEngine:
    def __init__(self, app: Any):
        self.app = app
        self._compiled: dict[tuple[str, int], Report] = {}

    # definitions --------------------------------------------------------------------------------
    def documents(self) -> dict[str, dict[str, Any]]:
        return self.app.registry.extras("report")

    def report(self, report_id: str) -> Report:
        registry = self.app.registry
        key = (report_id, registry.generation)
        found = self._compiled.get(key)
        if found is not None:
            return found
        doc = self.documents().get(report_id)
        if doc is None:
            raise NotFound(f"no report '{report_id}'")
        report, problems = compile_report(
            doc, registry.entities.get(doc.get("entity")), registry.option_sets, entities=registry.entities
        )
        if report is None:
            raise ReportInvalid(report_id, problems)
        self._compiled[key] = report
        return report

    def visible(self, ctx: Context) -> list[Report]:
        """Reports the viewer may run (analyse right on the entity, and one of the report's roles if it names any)."""
        out = []
        roles = self.app.permissions.subject(ctx).roles
        for rid in sorted(self.documents()):
            try:
                rep = self.report(rid)
            except (NotFound, BadRequest):
                continue
            if rep.roles and not ctx.is_admin and not set(rep.roles) & set(roles):
                continue
            if self.app.permissions.can(ctx, rep.entity, "analyse"):
                out.append(rep)
        return out

    # running ------------------------------------------------------------------------------------
    def window(self, report: Report, params: dict[str, str]) -> tuple[P.Range, str | None]:
        grain_raw = params.get("grain") or (report.grain or "none")
        if grain_raw not in (*P.GRAINS, "none"):
            raise BadRequest(f"grain must be one of {', '.join((*P.GRAINS, 'none'))}")
        grain = None if grain_raw == "none" else grain_raw
        today = P.local_today(self.app.clock.now())
        if params.get("from") or params.get("to"):
            try:
                start = date.fromisoformat(params.get("from") or params.get("to") or "")
                end = date.fromisoformat(params.get("to") or params.get("from") or "")
            except ValueError as exc:
                raise BadRequest("from and to must be dates such as 2026-01-31") from exc
            if end < start:
                raise BadRequest("the date range ends before it starts")
            window = P.Range(start, end)
        else:
            period = params.get("period") or report.period
            if period not in P.PERIODS:
                raise BadRequest(f"period must be one of {', '.join(P.PERIODS)}")
            window = P.named_range(period, today)
        window = P.aligned(window, grain)
        if grain and len(P.periods(window.start, window.end, grain)) > 400:
            raise BadRequest("too many periods: choose a coarser grain or a shorter range")
        return window, grain

    def run(self, report_id: str | Report, ctx: Context, params: dict[str, str] | None = None) -> ReportResult:
        """Run a deployed report (by id), or an already compiled one (benchmarks, previews)."""
        report = report_id if isinstance(report_id, Report) else self.report(report_id)
        params = {k: v for k, v in (params or {}).items() if isinstance(v, str)}
        app = self.app
        entity = app.registry.entity(report.entity)
        app.permissions.require(ctx, entity, "analyse")
        if report.roles and not ctx.is_admin:
            roles = app.permissions.subject(ctx).roles
            if not set(report.roles) & set(roles) and app.permissions.access(ctx, entity) is not None:
                raise Forbidden(f"the report '{report.id}' is for other roles")
        levels = app.permissions.field_levels(ctx, entity)

        def readable(name: str) -> bool:
            return name in SYSTEM_FIELDS or levels.get(name, FULL) == FULL

        for dim in report.dimensions:
            if not readable(dim.via or dim.field):
                raise Forbidden(f"you may not read the field '{dim.field}' of {entity.id}, which this report groups by")
            if dim.via and dim.via_entity and dim.leaf not in SYSTEM_FIELDS:
                target_levels = app.permissions.field_levels(ctx, app.registry.entity(dim.via_entity))
                if target_levels.get(dim.leaf, FULL) != FULL:
                    raise Forbidden(
                        f"you may not read the field '{dim.leaf}' of {dim.via_entity}, which this report groups by"
                    )
        lang = "en" if ctx.lang == "en" else "zh"
        notes: list[str] = []
        masked: set[str] = set()
        for m in report.measures:
            hidden = sorted(n for n in m.fields_used() if not readable(n))
            if hidden:
                masked.add(m.id)
                notes.append(MASKED_NOTE[lang].format(field=hidden[0], measure=label_text(m.label, lang) or m.id))
        for m in report.measures:  # a ratio over a masked input is masked too
            if m.type == "ratio" and {m.numerator, m.denominator} & masked:
                masked.add(m.id)
        window, grain = self.window(report, params)
        table = app.registry.tables[entity.id].main
        targets = {d.via: app.registry.tables[d.via_entity].main for d in report.dimensions if d.via and d.via_entity}
        builder = QueryBuilder(report, entity, table, app.db.engine.dialect.name, app.registry.option_sets, targets)
        filters = [*report.filters, *self._param_filters(report, entity, params, readable)]
        where = [builder.cond(f) for f in filters]
        scope = app.hooks.scope_clause(entity, ctx, table)
        if scope is not None:
            where.append(scope)
        measures = [m for m in report.measures if m.id not in masked]
        run = _Run(self, report, builder, where, measures, lang, window, grain)
        rows = run.rows()
        for row in rows:
            row.values.update({mid: None for mid in masked})
        columns = run.columns(masked)
        result = ReportResult(report, report.title(lang), columns, rows, window, grain, params, notes, masked)
        base = _drill_base(report, filters)
        drillable = not any(d.via for d in report.dimensions)  # the records list cannot filter through a reference
        for row in rows:
            if not drillable:
                continue
            row.drill = _drill_query(report, base, row, grain, window, builder)
            for m in report.shown:
                if m.where and m.type in ("count", "distinct", "sum", "avg", "min", "max"):
                    row.drills[m.id] = row.drill + "&" + urlencode(_drill_base(report, list(m.where)))
        return result

    def _param_filters(self, report: Report, entity: Any, params: dict[str, str], readable: Any) -> list[Filter]:
        out = []
        for p in report.parameters:
            raw = (params.get(p.name) or "").strip()
            if not raw:
                continue
            if not readable(p.field):
                raise Forbidden(f"you may not filter on the field '{p.field}' of {entity.id}")
            out.append(parse_filter(entity, p.field, "in" if "," in raw else "eq", raw))
        return out


class _Run:
    """One execution: the windows' grouped queries and the rows built from them."""

    def __init__(
        self,
        engine: ReportEngine,
        report: Report,
        builder: QueryBuilder,
        where: list[sa.ColumnElement[bool]],
        measures: list[Measure],
        lang: str,
        window: P.Range,
        grain: str | None,
    ):
        self.engine, self.app, self.report, self.builder = engine, engine.app, report, builder
        self.where, self.measures, self.lang, self.window, self.grain = where, measures, lang, window, grain
        self._memo: dict[tuple, dict[tuple, dict[str, Any]]] = {}

    def grouped(self, window: P.Range, grain: str | None, dims: list[Dimension]) -> dict[tuple, dict[str, Any]]:
        """key tuple -> {measure id: components} for one window (each distinct query runs once per report run)."""
        memo_key = (window, grain, tuple(d.field for d in dims))
        if memo_key in self._memo:
            return self._memo[memo_key]
        q, plan = self.builder.select(window, grain, dims, [m for m in self.measures if m.type != "ratio"], self.where)
        with self.app.db.read() as conn:
            result = conn.execute(q).mappings().all()
        out = {}
        for r in result:
            key = tuple(P.as_date(r[k]) if k == "rk_p" else _plain(r[k]) for k in plan.keys)
            comps = {mid: [as_number(r[label]) for label in labels] for mid, labels in plan.components.items()}
            out[key] = comps
        self._memo[memo_key] = out
        return out

    def values(self, comps: dict[str, list[Any]] | None) -> dict[str, Any]:
        comps = comps or {}
        out: dict[str, Any] = {}
        for m in self.measures:
            if m.type == "ratio":
                continue
            out[m.id] = _value(m, comps.get(m.id))
        for m in self.measures:
            if m.type == "ratio":
                num, den = out.get(m.numerator or ""), out.get(m.denominator or "")
                value = None if num is None or not den else num / den * (100 if m.percent else 1)
                out[m.id] = None if value is None else round(value, m.decimals)
        return out

    def compared(self, cur: dict[str, Any], yoy: dict[str, Any] | None, mom: dict[str, Any] | None) -> dict[str, Any]:
        out = dict(cur)
        for m in self.measures:
            for kind, prev in (("yoy", yoy), ("mom", mom)):
                if kind not in self.report.compare or prev is None:
                    continue
                p, c = prev.get(m.id), cur.get(m.id)
                out[f"{m.id}__{kind}"] = p
                out[f"{m.id}__{kind}_pct"] = _change(m, c, p)
        return out

    def rows(self) -> list[Row]:
        dims, grain, window = self.report.dimensions, self.grain, self.window
        compare = self.report.compare
        rows: list[Row] = []
        if grain:
            starts = [window.start]
            if "yoy" in compare:
                starts.append(P.year_before(window.start, grain))
            if "mom" in compare:
                starts.append(P.add(window.start, grain, -1))
            data = self.grouped(P.Range(min(starts), window.end), grain, dims)
            shown = P.periods(window.start, P.trunc(window.end, grain), grain)
            dim_keys = sorted({k[1:] for k, _ in data.items() if window.start <= k[0] <= window.end}, key=_sort_key)
            if not dims:
                dim_keys = [()]
            for dk in dim_keys:
                for p in shown:
                    cur = self.values(data.get((p, *dk)))
                    yoy = self.values(data.get((P.year_before(p, grain), *dk))) if "yoy" in compare else None
                    mom = self.values(data.get((P.add(p, grain, -1), *dk))) if "mom" in compare else None
                    rows.append(Row("row", {"rk_p": p, **_dim_keys(dk)}, self.compared(cur, yoy, mom)))
                if dims and self.report.subtotals:
                    rows.append(self._ranged("subtotal", dims[: len(dk)], dk))
        else:
            rows.extend(self._ranged_all(dims))
        if dims or grain:
            rows.append(self._ranged("total", [], ()))
        self._label(rows)
        return rows

    def _windows(self) -> tuple[P.Range | None, P.Range | None]:
        yoy = self.window.shifted_year() if "yoy" in self.report.compare else None
        mom = self.window.previous() if "mom" in self.report.compare else None
        return yoy, mom

    def _ranged(self, level: str, dims: list[Dimension], dk: tuple) -> Row:
        """One row over the whole range (a subtotal of one dimension value, or the grand total)."""
        yoy_w, mom_w = self._windows()
        cur = self.grouped(self.window, None, dims).get(dk)
        yoy = self.values(self.grouped(yoy_w, None, dims).get(dk)) if yoy_w else None
        mom = self.values(self.grouped(mom_w, None, dims).get(dk)) if mom_w else None
        return Row(level, _dim_keys(dk), self.compared(self.values(cur), yoy, mom))

    def _ranged_all(self, dims: list[Dimension]) -> list[Row]:
        yoy_w, mom_w = self._windows()
        cur = self.grouped(self.window, None, dims)
        yoy = self.grouped(yoy_w, None, dims) if yoy_w else None
        mom = self.grouped(mom_w, None, dims) if mom_w else None
        rows = []
        for dk in sorted(cur, key=_sort_key) or [()]:
            y = self.values(yoy.get(dk)) if yoy is not None else None
            m = self.values(mom.get(dk)) if mom is not None else None
            rows.append(Row("row", _dim_keys(dk), self.compared(self.values(cur.get(dk)), y, m)))
        return rows

    def columns(self, masked: set[str]) -> list[Column]:
        lang = self.lang
        cols = [
            Column(f"rk_d{i}", label_text(d.label, lang), "dim", "text") for i, d in enumerate(self.report.dimensions)
        ]
        if self.grain:
            cols.append(Column("rk_p", {"zh": "期间", "en": "Period"}[lang], "period", "text"))
        for m in self.report.shown:
            fmt = "percent" if m.is_percent else ("int" if m.type in ("count", "distinct") else "number")
            label = label_text(m.label, lang) or m.id
            cols.append(Column(m.id, label, "measure", fmt, m.id, m.decimals))
            if m.id in masked:
                continue
            for kind in ("yoy", "mom"):
                if kind in self.report.compare:
                    cols.append(
                        Column(
                            f"{m.id}__{kind}", f"{label} {COMPARE_LABEL[kind][lang]}", "compare", fmt, m.id, m.decimals
                        )
                    )
                    change = "points" if m.is_percent else "pct_change"
                    cols.append(
                        Column(
                            f"{m.id}__{kind}_pct",
                            f"{label} {COMPARE_LABEL[kind + '_pct'][lang]}",
                            "compare",
                            change,
                            m.id,
                            1,
                        )
                    )
        return cols

    def _label(self, rows: list[Row]) -> None:
        """Dimension and period labels: option labels, record titles, people and departments."""
        lang, dims = self.lang, self.report.dimensions
        for i, dim in enumerate(dims):
            values = {r.keys.get(f"rk_d{i}") for r in rows} - {None}
            names = self._dimension_names(dim, values)
            for r in rows:
                if r.level == "total" or f"rk_d{i}" not in r.keys:
                    continue
                v = r.keys[f"rk_d{i}"]
                r.values[f"rk_d{i}"] = NONE_LABEL[lang] if v is None else names.get(v, str(v))
        for r in rows:
            if r.level == "total":
                r.values["rk_d0" if dims else "rk_p"] = TOTAL[lang]
            elif r.level == "subtotal":
                r.values["rk_p"] = SUBTOTAL[lang]
            elif "rk_p" in r.keys:
                r.values["rk_p"] = P.label(r.keys["rk_p"], self.grain, lang)

    def _dimension_names(self, dim: Dimension, values: set[Any]) -> dict[Any, str]:
        lang = self.lang
        if dim.type == "select":
            from runtime.exports.values import option_label

            oset = self.app.registry.option_sets.get(dim.option_set or "")
            return {v: option_label(oset, str(v), lang) for v in values}
        ints = [v for v in values if isinstance(v, int)]
        if dim.type == "reference" and dim.target in self.app.registry.entities:
            return self.app.records.titles(dim.target, ints, self._ctx) if ints else {}
        if dim.type == "user" or dim.field in ("owner_id", "created_by", "updated_by"):
            return user_names(self.app, ints)
        if dim.type == "department":
            return department_names(self.app, ints)
        if dim.type == "boolean":
            return {True: YES_NO[lang][0], False: YES_NO[lang][1]}
        return {v: str(v) for v in values}

    @property
    def _ctx(self) -> Context:
        return Context(channel="system", lang=self.lang)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return value
    return value


def _sort_key(key: tuple) -> tuple:
    return tuple((v is None, str(type(v)), v if v is not None else 0) for v in key)


def _dim_keys(dk: tuple) -> dict[str, Any]:
    return {f"rk_d{i}": v for i, v in enumerate(dk)}


def _value(m: Measure, comps: list[Any] | None) -> Any:
    if m.type in ("count", "distinct"):
        return int(comps[0] or 0) if comps else 0
    if not comps:
        return 0 if m.type == "sum" else None
    if m.type in ("sum", "avg", "min", "max"):
        v = comps[0]
        if v is None:
            return 0 if m.type == "sum" else None
        return round(v, m.decimals) if m.decimals or not float(v).is_integer() else int(v)
    if m.type == "rate" or m.type == "share":
        num, den = comps
        return None if not den else round(num * 100 / den, m.decimals)
    if m.type == "nps":
        prom, det, n = comps
        return None if not n else round((prom - det) * 100 / n, m.decimals)
    return None


def _change(m: Measure, cur: Any, prev: Any) -> Any:
    if cur is None or prev is None:
        return None
    if m.is_percent:
        return round(cur - prev, 1)
    if prev == 0:
        return None
    return round((cur - prev) * 100 / prev, 1)


# drill-down -------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _drill_base(report: Report, filters: list[Filter]) -> list[tuple[str, str]]:
    out = []
    for f in filters:
        out.append((f.field if f.op == "eq" else f"{f.field}__{f.op}", _text(f.value)))
    return out


def _drill_query(
    report: Report, base: list[tuple[str, str]], row: Row, grain: str | None, window: P.Range, builder: QueryBuilder
) -> str:
    params = list(base)
    start, end = window.start, P.add(window.end, "day", 1)
    if grain and row.level == "row":
        start = row.keys["rk_p"]
        end = P.add(start, grain, 1)
    iso = P.local_iso if report.date_is_datetime else (lambda d: d.isoformat())
    params += [(f"{report.date_field}__gte", iso(start)), (f"{report.date_field}__lt", iso(end))]
    for i, dim in enumerate(report.dimensions):
        key = f"rk_d{i}"
        if key not in row.keys:
            continue
        value = row.keys[key]
        if value is None:
            params.append((f"{dim.field}__empty", "true"))
            continue
        if dim.level and dim.option_set in builder.option_sets:
            mapping = rollup_map(builder.option_sets[dim.option_set], dim.level)
            codes = [value, *sorted(k for k, v in mapping.items() if v == value)]
            params.append((f"{dim.field}__in", ",".join(str(c) for c in codes)))
            continue
        params.append((dim.field, _text(value)))
    return urlencode(params)
