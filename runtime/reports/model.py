"""Report and dashboard documents as checked dataclasses.

One reading serves the pack checker (errors with JSON pointers) and the runtime (which refuses a report
that no longer fits its entity, e.g. after another pack changed it), so both agree on what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.blueprints.errors import pointer
from runtime.blueprints.model import SYSTEM_FIELDS, Entity, Field, Label, OptionSet, label_text
from runtime.errors import BadRequest
from runtime.fields.storage import is_encrypted
from runtime.records.query import Filter, field_for, parse_filter

NUMERIC = ("integer", "decimal", "money", "percent", "rating", "nps")
NUMERIC_RESULTS = ("integer", "decimal")
GROUPABLE = (
    "text", "integer", "boolean", "select", "reference", "user", "department", "rating", "nps", "date", "phone",
    "email", "autonumber",
)  # fmt: skip
TIME_TYPES = ("date", "datetime")
NEEDS_FIELD = ("distinct", "sum", "avg", "min", "max", "nps", "share")
PERCENT_TYPES = ("rate", "nps", "share")


def is_numeric(f: Field) -> bool:
    """A number field, or a computed field whose formula gives a number (a total of other counts)."""
    return f.type in NUMERIC or (f.type == "computed" and f.opt("result_type") in NUMERIC_RESULTS)


@dataclass(frozen=True)
class Measure:
    id: str
    type: str
    label: Label
    field: str | None = None
    where: tuple[Filter, ...] = ()
    numerator: str | None = None
    denominator: str | None = None
    values: tuple[Any, ...] = ()
    percent: bool = False
    decimals: int = 0
    hidden: bool = False

    @property
    def is_percent(self) -> bool:
        return self.type in PERCENT_TYPES or (self.type == "ratio" and self.percent)

    def fields_used(self) -> set[str]:
        names = {f.field for f in self.where}
        if self.field:
            names.add(self.field)
        return names


@dataclass(frozen=True)
class Dimension:
    field: str
    type: str
    label: Label
    level: int | None = None
    option_set: str | None = None
    target: str | None = None
    """Referenced entity (reference dimensions)."""
    via: str | None = None
    """Path dimensions ("hospital.liaison"): the reference field of the report's entity that is followed."""
    via_entity: str | None = None
    """The entity that reference points at; `leaf` is the field of that entity grouped by."""
    leaf: str | None = None


@dataclass(frozen=True)
class Parameter:
    name: str
    field: str
    label: Label


@dataclass
class Report:
    id: str
    label: Label
    entity: str
    date_field: str
    date_is_datetime: bool
    grain: str | None
    period: str
    dimensions: list[Dimension]
    measures: list[Measure]
    compare: tuple[str, ...]
    filters: list[Filter]
    parameters: list[Parameter]
    chart: dict[str, Any]
    subtotals: bool
    roles: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def title(self, lang: str) -> str:
        return label_text(self.label, lang) or self.id

    @property
    def shown(self) -> list[Measure]:
        return [m for m in self.measures if not m.hidden]

    def measure(self, mid: str) -> Measure | None:
        return next((m for m in self.measures if m.id == mid), None)


class ReportInvalid(BadRequest):
    """A report that does not fit its entity: every problem with its JSON pointer."""

    def __init__(self, report_id: str, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__(f"report '{report_id}': " + "; ".join(f"{p or '/'}: {m}" for p, m in problems))


def _field(entity: Entity, name: str) -> Field | None:
    if name in SYSTEM_FIELDS:
        return field_for(entity, name)
    return entity.field(name)


def _condition(entity: Entity, raw: dict[str, Any], where: str, problems: list[tuple[str, str]]) -> Filter | None:
    f = _field(entity, raw["field"])
    if f is None:
        problems.append((where + "/field", f"unknown field '{raw['field']}' of entity '{entity.id}'"))
        return None
    value = raw.get("value")
    text = ",".join(str(v) for v in value) if isinstance(value, list) else "" if value is None else str(value)
    if isinstance(value, bool):
        text = str(value).lower()
    try:
        return parse_filter(entity, f.name, raw["op"], text)
    except BadRequest as exc:
        problems.append((where, str(exc)))
        return None


def compile_report(
    doc: dict[str, Any],
    entity: Entity | None,
    option_sets: dict[str, OptionSet],
    base: str = "",
    entities: dict[str, Entity] | None = None,
) -> tuple[Report | None, list[tuple[str, str]]]:
    """The report, or the problems (JSON pointer, message) that stop it from running.

    `entities` (every known entity) lets a dimension follow a reference ("hospital.liaison"); without it
    such a dimension is refused.
    """
    problems: list[tuple[str, str]] = []
    if entity is None:
        return None, [(pointer("entity"), f"unknown entity '{doc.get('entity')}'")]
    date_name = doc.get("date_field", "created_at")
    date_f = _field(entity, date_name)
    if date_f is None:
        problems.append((pointer("date_field"), f"unknown field '{date_name}' of entity '{entity.id}'"))
    elif date_f.type not in TIME_TYPES:
        problems.append((pointer("date_field"), f"'{date_name}' is a {date_f.type} field; use a date or datetime"))
    dims = [
        _dimension(entity, d, i, option_sets, problems, entities or {}) for i, d in enumerate(doc.get("dimensions", []))
    ]
    measures = [_measure(entity, m, i, problems) for i, m in enumerate(doc.get("measures", []))]
    ids = [m.id for m in measures if m is not None]
    for i, m in enumerate(measures):
        if m is None:
            continue
        if ids.count(m.id) > 1:
            problems.append((pointer("measures", i, "id"), f"the measure id '{m.id}' is used twice"))
        if m.type == "ratio":
            for part in ("numerator", "denominator"):
                ref = getattr(m, part)
                target = next((x for x in measures if x is not None and x.id == ref), None)
                if ref is None:
                    problems.append((pointer("measures", i), f"a ratio needs a {part} (the id of another measure)"))
                elif target is None:
                    problems.append((pointer("measures", i, part), f"unknown measure '{ref}'"))
                elif target.type in ("ratio", "rate", "nps", "share"):
                    problems.append(
                        (pointer("measures", i, part), f"'{ref}' is itself a {target.type}; use a count or sum")
                    )
    filters = [_condition(entity, c, pointer("filters", i), problems) for i, c in enumerate(doc.get("filters", []))]
    params = []
    for i, p in enumerate(doc.get("parameters", [])):
        f = _field(entity, p["field"])
        if f is None:
            problems.append(
                (pointer("parameters", i, "field"), f"unknown field '{p['field']}' of entity '{entity.id}'")
            )
        elif p["name"] in ("from", "to", "grain", "period", "format"):
            problems.append((pointer("parameters", i, "name"), f"'{p['name']}' is reserved for the date range"))
        else:
            params.append(Parameter(p["name"], f.name, p.get("label") or f.label))
    chart = dict(doc.get("chart") or {"type": "bar"})
    if chart.get("measure") and chart["measure"] not in ids:
        problems.append((pointer("chart", "measure"), f"unknown measure '{chart['measure']}'"))
    if not any(m is not None and not m.hidden for m in measures):
        problems.append((pointer("measures"), "every measure is hidden: show at least one"))
    if problems or date_f is None:
        return None, problems
    grain = doc.get("grain", "month")
    report = Report(
        id=doc["id"],
        label=doc.get("label") or doc["id"],
        entity=entity.id,
        date_field=date_f.name,
        date_is_datetime=date_f.type == "datetime",
        grain=None if grain == "none" else grain,
        period=doc.get("period", "last_12_months"),
        dimensions=[d for d in dims if d is not None],
        measures=[m for m in measures if m is not None],
        compare=tuple(doc.get("compare", [])),
        filters=[f for f in filters if f is not None],
        parameters=params,
        chart=chart,
        subtotals=bool(doc.get("subtotals", True)),
        roles=tuple(doc.get("roles", [])),
        raw=doc,
    )
    return report, []


def _path_dimension(
    entity: Entity, raw: dict[str, Any], where: str, entities: dict[str, Entity], problems: list[tuple[str, str]]
) -> tuple[Field, str, str] | None:
    """A dimension through a reference: "hospital.liaison" groups by the liaison of each record's hospital."""
    via, _, leaf = raw["field"].partition(".")
    ref = entity.field(via)
    if ref is None:
        problems.append((where + "/field", f"unknown field '{via}' of entity '{entity.id}'"))
        return None
    if ref.type != "reference" or "." in leaf:
        problems.append((where + "/field", f"'{raw['field']}': only one reference field can be followed ('{via}')"))
        return None
    target = entities.get(ref.opt("entity") or "")
    if target is None:
        problems.append((where + "/field", f"'{via}' refers to an unknown entity '{ref.opt('entity')}'"))
        return None
    f = _field(target, leaf)
    if f is None:
        problems.append((where + "/field", f"unknown field '{leaf}' of entity '{target.id}'"))
        return None
    return f, via, target.id


def _dimension(
    entity: Entity,
    raw: dict[str, Any],
    i: int,
    option_sets: dict[str, OptionSet],
    problems: list[tuple[str, str]],
    entities: dict[str, Entity] | None = None,
) -> Dimension | None:
    where = pointer("dimensions", i)
    via = via_entity = None
    if "." in raw["field"]:
        found = _path_dimension(entity, raw, where, entities or {}, problems)
        if found is None:
            return None
        f, via, via_entity = found
    else:
        f = _field(entity, raw["field"])
    if f is None:
        problems.append((where + "/field", f"unknown field '{raw['field']}' of entity '{entity.id}'"))
        return None
    if f.type not in GROUPABLE:
        problems.append((where + "/field", f"a {f.type} field cannot be a dimension"))
        return None
    if is_encrypted(f):
        problems.append((where + "/field", f"'{f.name}' is encrypted at rest: it cannot be grouped"))
        return None
    level = raw.get("level")
    oset = f.opt("option_set") if f.type == "select" else None
    if level is not None and f.type != "select":
        problems.append((where + "/level", "a level applies to option-set (select) fields only"))
    if oset is not None and option_sets and oset not in option_sets:
        problems.append((where + "/field", f"the option set '{oset}' of '{f.name}' is not known"))
    name = raw["field"] if via else f.name
    return Dimension(name, f.type, raw.get("label") or f.label, level, oset, f.opt("entity"), via, via_entity, f.name)


def _measure(entity: Entity, raw: dict[str, Any], i: int, problems: list[tuple[str, str]]) -> Measure | None:
    where = pointer("measures", i)
    kind = raw["type"]
    name = raw.get("field")
    f = _field(entity, name) if name else None
    if name and f is None:
        problems.append((where + "/field", f"unknown field '{name}' of entity '{entity.id}'"))
        return None
    if kind in NEEDS_FIELD and f is None:
        problems.append((where, f"a {kind} measure needs a field"))
        return None
    if f is not None and is_encrypted(f) and kind != "count":
        problems.append((where + "/field", f"'{f.name}' is encrypted at rest: only counted, never computed on"))
        return None
    if kind in ("sum", "avg") and f is not None and not is_numeric(f):
        problems.append((where + "/field", f"'{f.name}' is a {f.type} field; {kind} needs a number"))
        return None
    if kind == "nps" and f is not None and f.type not in ("nps", "integer", "rating"):
        problems.append((where + "/field", f"'{f.name}' is a {f.type} field; NPS needs an NPS (0-10) field"))
        return None
    if kind == "share" and not raw.get("values"):
        problems.append((where, "a share needs values (the answers counted)"))
        return None
    if kind == "rate" and not raw.get("where"):
        problems.append((where, "a rate needs where (the records counted as a share of all)"))
        return None
    conds = [_condition(entity, c, f"{where}/where/{j}", problems) for j, c in enumerate(raw.get("where", []))]
    label = raw.get("label") or (f.label if f is not None else raw["id"])
    default_decimals = 1 if kind in ("avg", "rate", "nps", "share", "ratio") else 0
    return Measure(
        id=raw["id"],
        type=kind,
        label=label,
        field=f.name if f is not None else None,
        where=tuple(c for c in conds if c is not None),
        numerator=raw.get("numerator"),
        denominator=raw.get("denominator"),
        values=tuple(raw.get("values", [])),
        percent=bool(raw.get("percent")),
        decimals=int(raw.get("decimals", default_decimals)),
        hidden=bool(raw.get("hidden")),
    )


def compile_dashboard(
    doc: dict[str, Any],
    reports: dict[str, dict[str, Any]],
    entities: dict[str, Entity] | None = None,
    option_sets: dict[str, OptionSet] | None = None,
) -> list[tuple[str, str]]:
    """Problems of a dashboard: unknown reports or measures; for the other item kinds (combined, schedule,
    quick_create) unknown entities and fields too (runtime.reports.items)."""
    from runtime.reports.items import check_item, kind_of

    problems = []
    for i, item in enumerate(doc.get("items", [])):
        if kind_of(item) != "report":
            problems.extend(check_item(item, i, reports, entities, option_sets))
            continue
        rep = reports.get(item["report"])
        if rep is None:
            problems.append((pointer("items", i, "report"), f"unknown report '{item['report']}'"))
            continue
        known = {m.get("id") for m in rep.get("measures", [])}
        mid = item.get("measure")
        if mid and mid not in known:
            problems.append((pointer("items", i, "measure"), f"report '{item['report']}' has no measure '{mid}'"))
        for j, other in enumerate(item.get("measures", [])):
            if other not in known:
                message = f"report '{item['report']}' has no measure '{other}'"
                problems.append((pointer("items", i, "measures", j), message))
        if item.get("measures") and rep.get("dimensions"):
            problems.append((pointer("items", i, "measures"), "a series per measure needs a report without dimensions"))
    return problems
