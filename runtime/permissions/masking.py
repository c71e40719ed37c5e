"""Masking of values a role may not read in full: the same function for API, UI, export, report and print.

phone 13812345678 -> 138****5678; resident ID -> **************1234 (last 4 only);
email zhang@example.com -> z***@example.com; other text -> first and last character only (张*丰).
Values of other types (numbers, dates, choices, files) cannot be masked meaningfully: they are
returned as null.
"""

from __future__ import annotations

from typing import Any

from runtime.blueprints.model import Field

TEXT_TYPES = ("text", "long_text", "autonumber")


def mask_phone(value: str) -> str:
    if len(value) <= 4:
        return "*" * len(value)
    if len(value) < 8:
        return "*" * (len(value) - 4) + value[-4:]
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_cn_id(value: str) -> str:
    return "*" * max(len(value) - 4, 0) + value[-4:] if len(value) > 4 else "*" * len(value)


def mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at:
        return mask_text(value)
    return (local[:1] or "*") + "***@" + domain


def mask_text(value: str) -> str:
    if len(value) <= 1:
        return "*" * len(value)
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * min(len(value) - 2, 6) + value[-1]


def mask_value(f: Field, value: Any) -> Any:
    """The masked form of a field value (None and empty values stay as they are)."""
    if value is None or value == "" or value == []:
        return value
    if f.type == "child_table":
        return [_mask_row(f, row) for row in value]
    if not isinstance(value, str):
        return None
    if f.type == "phone":
        return mask_phone(value)
    if f.type == "cn_id":
        return mask_cn_id(value)
    if f.type == "email":
        return mask_email(value)
    if f.type in TEXT_TYPES:
        return mask_text(value)
    return None


def _mask_row(f: Field, row: dict[str, Any]) -> dict[str, Any]:
    by_name = {c.name: c for c in f.children}
    return {k: (mask_value(by_name[k], v) if k in by_name else v) for k, v in row.items()}
