"""Stored values as people read them, for files and printouts made by the runtime.

Option codes become their labels, references the target's title (through the records service,
so a record outside the user's scope shows as '#id'), users and departments their names, and
timestamps (stored as naive UTC) the hospital's local time. Numbers stay numbers so a
spreadsheet can add them up. The web pages have their own, richer formatting (ui.formatting);
this module is what the runtime can use without importing the ui package.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from runtime.blueprints.model import Field, OptionSet, label_text
from runtime.records.context import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt

YES_NO = {"zh": ("是", "否"), "en": ("Yes", "No")}
JOINER = {"zh": "、", "en": ", "}
INT_TYPES = frozenset({"integer", "rating", "nps"})


def local_zone() -> tzinfo:
    """The hospital's time zone (TESSERA_TIMEZONE, default Asia/Shanghai), as on the pages."""
    name = os.environ.get("TESSERA_TIMEZONE", "Asia/Shanghai")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=8), "CST")


def local_time(value: datetime) -> datetime:
    """A naive-UTC timestamp as a naive local one."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(local_zone()).replace(tzinfo=None)


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


class Names:
    """Titles of referenced records and names of users and departments, fetched once per page of rows."""

    def __init__(self, tessera: Tessera, ctx: Context):
        self.tessera = tessera
        self.ctx = ctx
        self.titles: dict[str, dict[int, str]] = {}
        self.users: dict[int, str] = {}
        self.departments: dict[int, str] = {}

    def prime(self, fields: Iterable[Field], items: Iterable[dict[str, Any]]) -> None:
        refs: dict[str, set[int]] = {}
        users: set[int] = set()
        departments: set[int] = set()
        fields = list(fields)
        for item in items:
            for f in fields:
                value = item.get(f.name)
                if not isinstance(value, int) or isinstance(value, bool):
                    continue
                if f.type == "reference":
                    refs.setdefault(f.opt("entity"), set()).add(value)
                elif f.type == "user":
                    users.add(value)
                elif f.type == "department":
                    departments.add(value)
        for entity_id, ids in refs.items():
            known = self.titles.setdefault(entity_id, {})
            missing = [i for i in ids if i not in known]
            if missing and entity_id in self.tessera.registry.entities:
                known.update(self.tessera.records.titles(entity_id, missing, self.ctx))
        self.users.update(self._users(users - set(self.users)))
        self.departments.update(self._departments(departments - set(self.departments)))

    def _users(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        q = sa.select(pt.users.c.id, pt.users.c.display_name, pt.users.c.username).where(pt.users.c.id.in_(ids))
        with self.tessera.db.read() as conn:
            return {r.id: r.display_name or r.username for r in conn.execute(q)}

    def _departments(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        q = sa.select(pt.departments.c.id, pt.departments.c.name).where(pt.departments.c.id.in_(ids))
        with self.tessera.db.read() as conn:
            return {r.id: r.name for r in conn.execute(q)}


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
            return self.names.titles.get(f.opt("entity"), {}).get(value, f"#{value}")
        if kind == "user" and isinstance(value, int):
            return self.names.users.get(value, f"#{value}")
        if kind == "department" and isinstance(value, int):
            return self.names.departments.get(value, f"#{value}")
        if kind in ("file", "image") and isinstance(value, list):
            return JOINER[self.lang].join(str(m.get("name", "")) for m in value if isinstance(m, dict))
        if kind == "json" or isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return str(value)
