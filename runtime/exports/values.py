"""Stored values as people read them, for files and printouts made by the runtime.

Option codes become their labels, references the target's title (through the records service,
so a record outside the user's scope shows as '#id'), users and departments their names, and
timestamps (stored as naive UTC) the hospital's local time. Numbers stay numbers so a
spreadsheet can add them up. The web pages have their own, richer formatting (ui.formatting);
this module is what the runtime can use without importing the ui package.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from runtime.blueprints.model import Field, OptionSet, label_text
from runtime.clock import utc_to_local
from runtime.records.names import Names
from runtime.services import Tessera

YES_NO = {"zh": ("是", "否"), "en": ("Yes", "No")}
JOINER = {"zh": "、", "en": ", "}
INT_TYPES = frozenset({"integer", "rating", "nps"})


def local_time(value: datetime) -> datetime:
    """A naive-UTC timestamp as a naive local one (the same zone as the pages)."""
    return utc_to_local(value)


def kind_of(f: Field) -> str:
    """How a column's values are written: int, number, money, percent, date, datetime or text."""
    kind = f.opt("result_type", "text") if f.type == "computed" else f.type
    if kind in INT_TYPES:
        return "int"
    if kind in ("decimal", "money", "percent"):
        return "number" if kind == "decimal" else kind
    if kind in ("date", "datetime"):
        return kind
    return "text"


def option_label(oset: OptionSet | None, value: str, lang: str) -> str:
    """An option's label with its ancestors for tree options ('义诊 / 讲座'); the code when unknown."""
    if oset is None:
        return value
    for opt, path in oset.flat():
        if opt.value == value:
            labels = [label_text(a.label, lang) for a in (oset.find(v) for v in path) if a is not None]
            return " / ".join([*labels, label_text(opt.label, lang)])
    return value


class ValueFormatter:
    """One value of one field as a cell: a number, a date, or text in the user's language."""

    def __init__(self, tessera: Tessera, names: Names, lang: str):
        self.registry = tessera.registry
        self.names = names
        self.lang = "en" if lang == "en" else "zh"

    def value(self, f: Field, value: Any) -> Any:
        if value is None or value == "" or value == []:
            return None
        try:
            return self._typed(f, value)
        except (TypeError, ValueError, ArithmeticError):
            return str(value)  # a masked or unexpected value is shown as it came

    def _typed(self, f: Field, value: Any) -> Any:
        kind = kind_of(f)
        if isinstance(value, str) and kind in ("int", "number", "money", "percent"):
            return value  # masked
        if kind == "int":
            return int(value)
        if kind in ("number", "money", "percent"):
            return float(value)
        if kind == "date" and isinstance(value, str):
            return date.fromisoformat(value[:10])
        if kind == "datetime" and isinstance(value, str):
            return local_time(datetime.fromisoformat(value))
        return self._text(f, value)

    def _text(self, f: Field, value: Any) -> str:
        kind = f.opt("result_type", "text") if f.type == "computed" else f.type
        if kind == "boolean":
            return YES_NO[self.lang][0 if value else 1]
        if kind == "select":
            return option_label(self.registry.option_sets.get(f.opt("option_set")), str(value), self.lang)
        if kind == "multiselect":
            oset = self.registry.option_sets.get(f.opt("option_set"))
            return JOINER[self.lang].join(option_label(oset, str(v), self.lang) for v in value)
        if kind == "tags":
            return JOINER[self.lang].join(map(str, value))
        if kind == "region":
            return " / ".join(map(str, value))
        if kind == "reference" and isinstance(value, int):
            return self.names.title(f.opt("entity"), value)
        if kind == "user" and isinstance(value, int):
            return self.names.user(value)
        if kind == "department" and isinstance(value, int):
            return self.names.department(value)
        if kind in ("file", "image") and isinstance(value, list):
            return JOINER[self.lang].join(str(m.get("name", "")) for m in value if isinstance(m, dict))
        if kind == "json" or isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return str(value)
