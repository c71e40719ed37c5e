"""How a stored value looks on a page: list cells, detail values, kanban cards.

`display` turns a JSON value into a :class:`Cell` (a kind plus plain data); templates render
each kind with autoescaping, so no user text ever reaches the page as raw HTML. Money shows
with ¥ and two decimals, options as coloured badges, references as links with the target's
title, timestamps in the hospital's local time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from runtime.blueprints.model import Field, OptionSet, label_text
from runtime.clock import utc_to_local
from runtime.registry import Registry
from ui.lookups import Lookups

HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
NAMED_COLORS = {
    "red": "#c9372c",
    "green": "#2e7d4f",
    "blue": "#2f6fde",
    "orange": "#d9822b",
    "yellow": "#b58a00",
    "purple": "#7e57c2",
    "gray": "#6b7280",
    "grey": "#6b7280",
    "teal": "#0f8b8d",
    "cyan": "#0e8fb3",
    "pink": "#c2185b",
    "indigo": "#3f51b5",
    "brown": "#8d6e63",
    "black": "#1f2937",
}
NUMERIC_TYPES = frozenset({"integer", "decimal", "money", "percent"})


def parse_iso_datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def local_datetime_text(text: str | None, *, seconds: bool = False) -> str:
    """'2026-11-23T01:30:00' (UTC) -> '2026-11-23 09:30' (local)."""
    parsed = parse_iso_datetime(text) if text else None
    if parsed is None:
        return text or ""
    return utc_to_local(parsed).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def css_color(color: str | None) -> str | None:
    """A safe CSS colour for an option (validated again: it ends up in a style attribute)."""
    if not color:
        return None
    if HEX_COLOR.match(color):
        return color.lower()
    return NAMED_COLORS.get(color.lower())


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ink(color: str | None) -> str:
    """A text colour of the same hue that stays readable on the badge's pale background.

    Packs pick option colours for dots and bars (#adb5bd grey, #0dcaf0 cyan); used as text on a
    12% tint those would be unreadable, so light colours are darkened until the contrast holds.
    """
    if not color or not HEX_COLOR.match(color):
        return "#3f5a85"
    rgb = tuple(float(int(color[i : i + 2], 16)) for i in (1, 3, 5))
    for _ in range(12):
        if _luminance(rgb) <= 0.16:  # about 4.5:1 against the near-white tint
            break
        rgb = tuple(c * 0.85 for c in rgb)
    return "#" + "".join(f"{round(c):02x}" for c in rgb)


@dataclass
class Cell:
    kind: str
    text: str = ""
    href: str | None = None
    color: str | None = None
    value: Any = None
    items: list[dict[str, Any]] = field(default_factory=list)
    numeric: bool = False


EMPTY = Cell("empty")


def option_label(
    oset: OptionSet | None, value: str, lang: str, *, with_path: bool = True
) -> tuple[str, str | None]:
    """(label, colour) of an option value; tree options show their ancestors ('义诊 / 讲座')."""
    if oset is None:
        return value, None
    for opt, path in oset.flat():
        if opt.value == value:
            labels = [label_text(a.label, lang) for a in _ancestors(oset, path)] if with_path else []
            return " / ".join([*labels, label_text(opt.label, lang)]), css_color(opt.color)
    return value, None


def _ancestors(oset: OptionSet, path: list[str]) -> list[Any]:
    out = []
    for value in path:
        found = oset.find(value)
        if found is not None:
            out.append(found)
    return out


def format_number(value: float | int, decimals: int | None) -> str:
    if decimals is None:
        return f"{value:,}" if isinstance(value, int) else f"{value:,.{_natural_decimals(value)}f}"
    return f"{value:,.{decimals}f}"


def _natural_decimals(value: float) -> int:
    text = repr(float(value))
    if "e" in text or "." not in text:
        return 0
    return min(len(text.split(".")[1].rstrip("0")), 6)


def file_size(size: Any) -> str:
    if not isinstance(size, int):
        return ""
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return ""


def nps_tone(score: int) -> str:
    """NPS bands: 0-6 detractor, 7-8 passive, 9-10 promoter."""
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def display(
    f: Field, value: Any, lang: str, registry: Registry, lookups: Lookups, *, full: bool = False
) -> Cell:
    """The cell for one value; `full` (detail pages) shows long text and JSON completely."""
    if value is None or value == "" or value == []:
        return EMPTY
    kind = f.type
    if kind == "computed":
        return _computed(f, value, lang)
    if kind in NUMERIC_TYPES:
        return _number(f, value)
    if kind == "boolean":
        return Cell("bool", value=bool(value))
    if kind == "select":
        oset = registry.option_sets.get(f.opt("option_set"))
        text, color = option_label(oset, str(value), lang)
        return Cell("badge", text=text, color=color)
    if kind == "multiselect":
        oset = registry.option_sets.get(f.opt("option_set"))
        items = [dict(zip(("text", "color"), option_label(oset, str(v), lang), strict=True)) for v in value]
        return Cell("badges", items=items)
    if kind in ("tags", "region"):
        return Cell(
            "chips" if kind == "tags" else "text",
            text=" / ".join(map(str, value)),
            items=[{"text": str(v)} for v in value],
        )
    if kind == "reference":
        target = f.opt("entity")
        return Cell("link", text=lookups.title(target, value), href=f"/r/{target}/{value}")
    if kind == "user":
        return Cell("text", text=lookups.user(value))
    if kind == "department":
        return Cell("text", text=lookups.department(value))
    if kind in ("phone", "email") and "*" in str(value):
        return Cell("text", text=str(value))  # masked for this user: nothing to dial or write to
    if kind == "phone":
        return Cell("link", text=str(value), href=f"tel:{value}")
    if kind == "email":
        return Cell("link", text=str(value), href=f"mailto:{value}")
    if kind in ("file", "image"):
        return _files(kind, value)
    if kind == "rating":
        return Cell(
            "stars", value=int(value), items=[{"on": i < int(value)} for i in range(f.opt("scale", 5))]
        )
    if kind == "nps":
        return Cell("nps", text=str(value), value=nps_tone(int(value)))
    if kind == "datetime":
        return Cell("text", text=local_datetime_text(value))
    if kind == "json":
        text = json.dumps(value, ensure_ascii=False, indent=2 if full else None)
        return Cell("code", text=text if full or len(text) <= 80 else text[:77] + "...")
    if kind == "autonumber":
        return Cell("code", text=str(value))
    if kind == "long_text":
        text = str(value)
        return Cell("multiline", text=text if full or len(text) <= 60 else text[:57] + "...")
    return Cell("text", text=str(value))


def _number(f: Field, value: Any) -> Cell:
    kind = f.type
    if kind == "money":
        return Cell("text", text=f"¥{format_number(float(value), 2)}", numeric=True)
    if kind == "percent":
        return Cell("text", text=f"{format_number(float(value), f.opt('decimals'))}%", numeric=True)
    if kind == "decimal":
        return Cell("text", text=format_number(float(value), f.opt("decimals")), numeric=True)
    return Cell("text", text=format_number(int(value), None), numeric=True)


def _computed(f: Field, value: Any, lang: str) -> Cell:
    result = f.opt("result_type", "text")
    if result in ("integer", "decimal") and isinstance(value, int | float):
        decimals = f.opt("decimals") if result == "decimal" else None
        return Cell("text", text=format_number(value, decimals), numeric=True)
    if result == "boolean":
        return Cell("bool", value=bool(value))
    if result == "datetime" and isinstance(value, str):
        return Cell("text", text=local_datetime_text(value))
    return Cell("text", text=str(value))


def _files(kind: str, value: Any) -> Cell:
    items = []
    for meta in value if isinstance(value, list) else []:
        if isinstance(meta, dict) and isinstance(meta.get("id"), str):
            items.append(
                {
                    "name": str(meta.get("name", "")),
                    "href": f"/api/v1/files/{meta['id']}",
                    "size": file_size(meta.get("size")),
                }
            )
    return Cell("images" if kind == "image" else "files", items=items)


def system_value(name: str, value: Any, lookups: Lookups) -> str:
    """Created/updated stamps and owner for detail headers."""
    if value is None:
        return ""
    if name in ("created_by", "updated_by", "owner_id"):
        return lookups.user(value)
    if name in ("created_at", "updated_at"):
        return local_datetime_text(value)
    return str(value)


def month_label(day: date, lang: str) -> str:
    return f"{day.year}年{day.month}月" if lang == "zh" else day.strftime("%B %Y")
