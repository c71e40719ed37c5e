"""Dashboard items beyond a single report (PL-07): combined reports, the viewer's schedule, quick-create buttons.

A dashboard is a role's home page, so besides report charts it may hold:

* ``combined``: measures of several reports side by side, joined on their one shared dimension
  (liaison | leads followed | converted % | visits done/planned | volume), each column computed by its own
  report (own entity, filters, data scope), so a column means exactly what its report means;
* ``schedule``: the viewer's records of today or this week (a visit plan's planned date, a lead's next
  follow-up) where an owner field names the viewer; the UI adds the open tasks and follow-up work;
* ``reminders``: unread notifications and overdue tasks (read by the UI from the inbox and the centre);
* ``quick_create``: buttons opening the create form of the entities the viewer may create.

The checks (unknown report, measure, entity or field; reports without one shared dimension) run in the pack
checker and again at run time, so a pack cannot ship a dashboard that fails on the home page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from runtime.blueprints.errors import pointer
from runtime.blueprints.model import SYSTEM_FIELDS, Entity, OptionSet, label_text
from runtime.errors import BadRequest, Forbidden, NotFound
from runtime.records.context import Context
from runtime.records.query import field_for, parse_filter
from runtime.records.titles import record_titles
from runtime.records.url_query import list_query_from_params
from runtime.reports import periods as P
from runtime.reports.engine import Column, ReportResult
from runtime.reports.model import compile_report
from runtime.reports.output import cell_text

KINDS = ("report", "combined", "schedule", "reminders", "quick_create")
OWNER_TYPES = ("user",)
SCHEDULE_LIMIT = 20


def kind_of(item: dict[str, Any]) -> str:
    return item.get("kind", "report")


# checks -------------------------------------------------------------------------------------------------
def check_item(
    item: dict[str, Any],
    i: int,
    reports: dict[str, dict[str, Any]],
    entities: dict[str, Entity] | None,
    option_sets: dict[str, OptionSet] | None,
) -> list[tuple[str, str]]:
    """Problems (JSON pointer, message) of one non-report item; `entities` None skips the entity checks."""
    kind = kind_of(item)
    if kind == "combined":
        return _check_combined(item, i, reports, entities, option_sets)
    if kind == "schedule" and entities is not None:
        out = []
        for j, src in enumerate(item.get("sources", [])):
            out.extend(_check_source(src, pointer("items", i, "sources", j), entities))
        return out
    if kind == "quick_create" and entities is not None:
        return [
            (pointer("items", i, "entities", j), f"unknown entity '{e}'")
            for j, e in enumerate(item.get("entities", []))
            if e not in entities
        ]
    return []


def _check_source(src: dict[str, Any], where: str, entities: dict[str, Entity]) -> list[tuple[str, str]]:
    entity = entities.get(src["entity"])
    if entity is None:
        return [(where + "/entity", f"unknown entity '{src['entity']}'")]
    out = []
    date_f = _field(entity, src["date_field"])
    if date_f is None:
        out.append((where + "/date_field", f"unknown field '{src['date_field']}' of entity '{entity.id}'"))
    elif date_f.type not in ("date", "datetime"):
        out.append((where + "/date_field", f"'{date_f.name}' is a {date_f.type} field; use a date or datetime"))
    owner = _field(entity, src["owner_field"]) if src.get("owner_field") else None
    if owner is None and src.get("owner_field"):
        out.append((where + "/owner_field", f"unknown field '{src['owner_field']}' of entity '{entity.id}'"))
    elif owner is not None and owner.type not in OWNER_TYPES and owner.name != "owner_id":
        out.append((where + "/owner_field", f"'{owner.name}' is a {owner.type} field; use a user field or owner_id"))
    for j, name in enumerate(src.get("fields", [])):
        if _field(entity, name) is None:
            out.append((f"{where}/fields/{j}", f"unknown field '{name}' of entity '{entity.id}'"))
    for j, cond in enumerate(src.get("where", [])):
        f = _field(entity, cond["field"])
        if f is None:
            out.append((f"{where}/where/{j}/field", f"unknown field '{cond['field']}' of entity '{entity.id}'"))
            continue
        try:
            parse_filter(entity, f.name, cond["op"], _cond_text(cond.get("value")))
        except BadRequest as exc:
            out.append((f"{where}/where/{j}", str(exc)))
    return out


def _check_combined(
    item: dict[str, Any],
    i: int,
    reports: dict[str, dict[str, Any]],
    entities: dict[str, Entity] | None,
    option_sets: dict[str, OptionSet] | None,
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    kinds: dict[tuple[str, str | None], int] = {}
    for j, col in enumerate(item.get("columns", [])):
        where = pointer("items", i, "columns", j)
        rep = reports.get(col["report"])
        if rep is None:
            out.append((where + "/report", f"unknown report '{col['report']}'"))
            continue
        if col["measure"] not in {m.get("id") for m in rep.get("measures", [])}:
            out.append((where + "/measure", f"report '{col['report']}' has no measure '{col['measure']}'"))
        if len(rep.get("dimensions", [])) != 1:
            out.append((where + "/report", f"report '{col['report']}' must group by exactly one dimension"))
            continue
        if entities is None:
            continue
        compiled, _ = compile_report(rep, entities.get(rep.get("entity")), option_sets or {}, entities=entities)
        if compiled is not None:
            dim = compiled.dimensions[0]
            kinds.setdefault((dim.type, dim.target or dim.option_set), j)
    keep = item.get("rows_from")
    if keep is not None and keep >= len(item.get("columns", [])):
        out.append((pointer("items", i, "rows_from"), f"there is no column {keep} (columns count from 0)"))
    if len(kinds) > 1:
        names = ", ".join(f"{t}{'/' + x if x else ''}" for t, x in kinds)
        out.append((pointer("items", i, "columns"), f"the reports group by dimensions of different kinds ({names})"))
    return out


def _field(entity: Entity, name: str) -> Any:
    if name in SYSTEM_FIELDS:
        return field_for(entity, name)
    return entity.field(name)


def _cond_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


# combined ------------------------------------------------------------------------------------------------
@dataclass
class Combined:
    """The side-by-side table: the dimension column, then one column per (report, measure)."""

    title: str
    dimension: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    """{"key": raw dimension value, "label": text, "values": {column key: number}, "text": {key: shown}}."""
    total: dict[str, Any] | None
    window: P.Range
    reports: list[str] = field(default_factory=list)


def run_combined(app: Any, ctx: Context, item: dict[str, Any], params: dict[str, str]) -> Combined:
    """Run each column's report over the whole range (no time grain) and join the rows on the dimension value."""
    problems = check_item(item, 0, app.registry.extras("report"), app.registry.entities, app.registry.option_sets)
    if problems:
        raise BadRequest("; ".join(m for _, m in problems))
    lang = "en" if ctx.lang == "en" else "zh"
    results: dict[str, ReportResult] = {}
    for col in item["columns"]:
        if col["report"] not in results:
            results[col["report"]] = app.reports.run(col["report"], ctx, {**params, "grain": "none"})
    first = results[item["columns"][0]["report"]]
    columns: list[Column] = []
    labels: dict[Any, str] = {}
    values: dict[Any, dict[str, Any]] = {}
    total: dict[str, Any] = {}
    for j, col in enumerate(item["columns"]):
        result = results[col["report"]]
        source = next((c for c in result.columns if c.key == col["measure"]), None)
        if source is None:  # a masked measure is left out of the report's columns
            source = Column(col["measure"], col["measure"], "measure", "number")
        key = f"c{j}"
        title = label_text(col.get("label"), lang) or source.label
        columns.append(Column(key, title, "measure", source.format, col["measure"], source.decimals))
        for row in result.body:
            dim_value = row.keys.get("rk_d0")
            labels.setdefault(dim_value, str(row.values.get("rk_d0", dim_value)))
            values.setdefault(dim_value, {})[key] = row.values.get(col["measure"])
        total[key] = result.total.values.get(col["measure"]) if result.total else None
    keep = item.get("rows_from")
    only = None
    if keep is not None:  # only the people (say) of that column's report: the team the viewer manages
        only = {row.keys.get("rk_d0") for row in results[item["columns"][keep]["report"]].body}
        values = {k: v for k, v in values.items() if k in only}
    for j, col in enumerate(item["columns"]):
        result = results[col["report"]]
        m = result.report.measure(col["measure"])
        additive = m is not None and m.type in ("count", "distinct", "sum")
        if additive:  # a count or sum with no records is 0, not "no data"
            for vals in values.values():
                vals.setdefault(f"c{j}", 0)
        if only is not None and not {r.keys.get("rk_d0") for r in result.body} <= only:
            # rows were left out: the report's own total would not add up to the rows shown
            total[f"c{j}"] = sum(v.get(f"c{j}") or 0 for v in values.values()) if additive else None
    rows = []
    for dim_value, vals in values.items():
        text = {c.key: cell_text(vals.get(c.key), c) for c in columns}
        rows.append({"key": dim_value, "label": labels[dim_value], "values": vals, "text": text})
    rows.sort(key=lambda r: (r["key"] is None, -(_num(r["values"].get("c0")) or 0), r["label"]))
    total_row = {"label": {"zh": "合计", "en": "Total"}[lang], "values": total,
                 "text": {c.key: cell_text(total.get(c.key), c) for c in columns}}  # fmt: skip
    dim_label = first.columns[0].label if first.columns and first.columns[0].kind == "dim" else ""
    title = label_text(item.get("title"), lang) or first.title
    return Combined(title, dim_label, columns, rows, total_row, first.window, list(results))


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# schedule ------------------------------------------------------------------------------------------------
def schedule_range(app: Any, item: dict[str, Any]) -> P.Range:
    today = P.local_today(app.clock.now())
    kind = item.get("range", "today")
    if kind == "this_week":
        start = P.trunc(today, "week")
        return P.Range(start, start + timedelta(days=6))
    if kind.startswith("next_"):
        return P.Range(today, today + timedelta(days=int(kind.split("_")[1]) - 1))
    return P.Range(today, today)


def schedule_records(app: Any, ctx: Context, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The viewer's records of each source dated in the range: entity, id, title, date, detail fields."""
    window = schedule_range(app, item)
    out: list[dict[str, Any]] = []
    lang = "en" if ctx.lang == "en" else "zh"
    for order, src in enumerate(item.get("sources", [])):
        entity = app.registry.entities.get(src["entity"])
        if entity is None or ctx.user_id is None or not app.permissions.can(ctx, entity, "read"):
            continue
        date_f = _field(entity, src["date_field"])
        params = _source_params(src, window, date_f.type == "datetime", ctx.user_id)
        try:
            query = list_query_from_params(app.registry, entity, params)
            page = app.records.list(entity.id, query, ctx)
        except (BadRequest, Forbidden, NotFound):
            continue
        titles = record_titles(app, entity, page.items, ctx)
        for rec in page.items:
            row = _schedule_row(app, entity, src, rec, date_f.name, lang)
            out.append({**row, "title": titles[rec["id"]], "order": order})
    out.sort(key=lambda r: (r["when"] or "", r["order"], r["id"]))  # a day's entries in the sources' order
    return out[: item.get("limit", SCHEDULE_LIMIT)]


def top_rows(result: ReportResult, measure: str | None, limit: int) -> ReportResult:
    """A ranking: the body rows with the largest `measure` (the chart's, else the first shown), at most `limit`;
    subtotals go, the total stays (it still covers every row)."""
    mid = measure or result.report.chart.get("measure") or result.report.shown[0].id
    body = sorted(result.body, key=lambda r: (r.values.get(mid) is None, -(_num(r.values.get(mid)) or 0)))
    kept = body[:limit]
    total = [r for r in result.rows if r.level == "total"]
    result.rows = [*kept, *total]
    return result


def _source_params(src: dict[str, Any], window: P.Range, is_datetime: bool, user_id: int) -> list[tuple[str, str]]:
    date_name = src["date_field"]
    end = window.end + timedelta(days=1)
    if is_datetime:
        bounds = [(f"{date_name}__gte", P.local_iso(window.start)), (f"{date_name}__lt", P.local_iso(end))]
    else:
        bounds = [(f"{date_name}__gte", window.start.isoformat()), (f"{date_name}__lt", end.isoformat())]
    params = [*bounds, ("sort", date_name), ("limit", str(SCHEDULE_LIMIT))]
    if src.get("owner_field"):
        params.append((src["owner_field"], str(user_id)))
    for cond in src.get("where", []):
        key = cond["field"] if cond["op"] == "eq" else f"{cond['field']}__{cond['op']}"
        params.append((key, _cond_text(cond.get("value"))))
    return params


def _schedule_row(
    app: Any, entity: Entity, src: dict[str, Any], rec: dict[str, Any], date_name: str, lang: str
) -> dict[str, Any]:
    """One schedule entry; `record` and `fields` let the UI show the detail fields in its own formatting."""
    when = rec.get(date_name)
    return {
        "entity": entity.id,
        "entity_label": entity.label_in(lang),
        "id": rec["id"],
        "when": when.isoformat() if isinstance(when, date) else (str(when) if when else None),
        "fields": [name for name in src.get("fields", []) if entity.field(name) is not None],
        "record": rec,
        "href": f"/r/{entity.id}/{rec['id']}",
        "icon": src.get("icon") or entity.raw.get("icon") or "bi-calendar-event",
    }


# quick create ----------------------------------------------------------------------------------------------
def quick_create(app: Any, ctx: Context, item: dict[str, Any]) -> list[dict[str, str]]:
    lang = "en" if ctx.lang == "en" else "zh"
    out = []
    for eid in item.get("entities", []):
        entity = app.registry.entities.get(eid)
        if entity is None or not app.permissions.can(ctx, entity, "create"):
            continue
        out.append({"entity": eid, "label": entity.label_in(lang), "href": f"/r/{eid}/new",
                    "icon": entity.raw.get("icon") or "bi-plus-circle"})  # fmt: skip
    return out
