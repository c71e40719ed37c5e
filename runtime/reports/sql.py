"""The SQL of a report: one grouped SELECT per window, generated from the blueprint with SQLAlchemy Core.

Every measure becomes one or more aggregates ("components") computed by the database: a rate is
COUNT(CASE WHEN cond THEN 1 END) and COUNT(*), an NPS the promoters, detractors and answers. Ratios,
percentages and comparisons are then arithmetic on those few grouped numbers (never on records).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from runtime.blueprints.model import Entity, OptionSet
from runtime.records.query import Filter, filter_clause
from runtime.reports.model import Dimension, Measure, Report
from runtime.reports.periods import Range, period_expr, utc_bound


def rollup_map(oset: OptionSet, level: int) -> dict[str, str]:
    """option value -> its ancestor at `level` (1 = top) for values deeper than the level."""
    out = {}
    for opt, path in oset.flat():
        chain = [*path, opt.value]
        if len(chain) > level:
            out[opt.value] = chain[level - 1]
    return out


@dataclass
class Plan:
    """What a grouped query returns: key columns first (period, then dimensions), then the components."""

    keys: list[str]
    components: dict[str, list[str]]
    """measure id -> the labels of its aggregate columns."""


class QueryBuilder:
    def __init__(
        self,
        report: Report,
        entity: Entity,
        table: sa.Table,
        dialect: str,
        option_sets: dict[str, OptionSet],
        targets: dict[str, sa.Table] | None = None,
    ):
        self.report, self.entity, self.table, self.dialect = report, entity, table, dialect
        self.option_sets = option_sets
        self.joined = {via: t.alias(f"rj_{via}") for via, t in (targets or {}).items()}
        """reference field -> (an alias of) the referenced entity's table, for path dimensions."""

    def cond(self, flt: Filter) -> sa.ColumnElement[bool]:
        return filter_clause(self.entity, self.table, flt, self.dialect)

    def dimension_expr(self, dim: Dimension) -> sa.ColumnElement:
        col = self.joined[dim.via].c[dim.leaf] if dim.via else self.table.c[dim.field]
        if dim.level and dim.option_set in self.option_sets:
            mapping = rollup_map(self.option_sets[dim.option_set], dim.level)
            if mapping:
                return sa.case(mapping, value=col, else_=col)
        return col

    def components(self, m: Measure) -> list[sa.ColumnElement]:
        where = sa.and_(*(self.cond(f) for f in m.where)) if m.where else None
        col = self.table.c[m.field] if m.field else None

        def only(expr: Any) -> Any:
            return expr if where is None else sa.case((where, expr))

        match m.type:
            case "count":
                return [sa.func.count() if where is None else sa.func.count(sa.case((where, 1)))]
            case "distinct":
                return [sa.func.count(sa.distinct(only(col)))]
            case "sum" | "avg" | "min" | "max":
                return [getattr(sa.func, m.type)(only(col))]
            case "rate":
                return [sa.func.count(sa.case((where, 1))), sa.func.count()]
            case "nps":
                return [
                    sa.func.count(only(sa.case((col >= 9, 1)))),
                    sa.func.count(only(sa.case((col <= 6, 1)))),
                    sa.func.count(only(col)),
                ]
            case "share":
                return [sa.func.count(only(sa.case((col.in_(list(m.values)), 1)))), sa.func.count(only(col))]
        return []  # ratio: arithmetic on two other measures

    def date_bounds(self, window: Range) -> list[sa.ColumnElement[bool]]:
        col = self.table.c[self.report.date_field]
        end = window.end + timedelta(days=1)
        if self.report.date_is_datetime:
            return [col >= utc_bound(window.start), col < utc_bound(end)]
        return [col >= window.start, col < end]

    def select(
        self,
        window: Range,
        grain: str | None,
        dims: list[Dimension],
        measures: list[Measure],
        where: list[sa.ColumnElement[bool]],
    ) -> tuple[sa.Select, Plan]:
        keys: list[sa.ColumnElement] = []
        names: list[str] = []
        if grain:
            col = self.table.c[self.report.date_field]
            keys.append(period_expr(col, grain, self.report.date_is_datetime, self.dialect).label("rk_p"))
            names.append("rk_p")
        for i, dim in enumerate(dims):
            keys.append(self.dimension_expr(dim).label(f"rk_d{i}"))
            names.append(f"rk_d{i}")
        comps: list[sa.ColumnElement] = []
        plan = Plan(names, {})
        for j, m in enumerate(measures):
            labels = []
            for k, expr in enumerate(self.components(m)):
                labels.append(f"m{j}_{k}")
                comps.append(expr.label(labels[-1]))
            plan.components[m.id] = labels
        source: sa.FromClause = self.table
        for via in dict.fromkeys(d.via for d in dims if d.via):
            target = self.joined[via]
            source = source.outerjoin(target, self.table.c[via] == target.c.id)
        q = sa.select(*keys, *comps).select_from(source).where(*self.date_bounds(window), *where)
        if keys:
            q = q.group_by(*[sa.literal_column(n) for n in names])  # by label: bind parameters are not repeated
        return q, plan


def as_number(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    return float(value)
