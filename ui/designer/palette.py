"""The field-type catalogue the designers show: every type of runtime.fields, grouped, named and iconed.

The runtime knows types by their technical names ("cn_id", "child_table"); a department manager
needs "身份证号" and an icon. The catalogue is checked against runtime.fields.types.FIELD_TYPES by
the tests, so a type added to the runtime without a palette entry is noticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.fields.types import FIELD_TYPES


@dataclass(frozen=True)
class FieldKind:
    type: str
    zh: str
    en: str
    icon: str
    group: str


GROUPS: dict[str, dict[str, str]] = {
    "basic": {"zh": "基础", "en": "Basic"},
    "time": {"zh": "日期时间", "en": "Date & time"},
    "choice": {"zh": "选择", "en": "Choices"},
    "contact": {"zh": "联系与身份", "en": "Contact & identity"},
    "link": {"zh": "关联", "en": "Links"},
    "file": {"zh": "文件", "en": "Files"},
    "advanced": {"zh": "高级", "en": "Advanced"},
}

KINDS: tuple[FieldKind, ...] = (
    FieldKind("text", "单行文本", "Text", "bi-input-cursor-text", "basic"),
    FieldKind("long_text", "多行文本", "Long text", "bi-text-paragraph", "basic"),
    FieldKind("integer", "整数", "Whole number", "bi-123", "basic"),
    FieldKind("decimal", "小数", "Decimal", "bi-calculator", "basic"),
    FieldKind("money", "金额", "Money", "bi-currency-yen", "basic"),
    FieldKind("percent", "百分比", "Percent", "bi-percent", "basic"),
    FieldKind("boolean", "是/否", "Yes / no", "bi-toggle-on", "basic"),
    FieldKind("date", "日期", "Date", "bi-calendar-date", "time"),
    FieldKind("datetime", "日期时间", "Date and time", "bi-calendar-event", "time"),
    FieldKind("time", "时间", "Time", "bi-clock", "time"),
    FieldKind("select", "单选", "Single choice", "bi-menu-button-wide", "choice"),
    FieldKind("multiselect", "多选", "Multiple choice", "bi-ui-checks", "choice"),
    FieldKind("tags", "标签", "Tags", "bi-tags", "choice"),
    FieldKind("rating", "评分", "Rating", "bi-star-half", "choice"),
    FieldKind("nps", "NPS 评分", "NPS score", "bi-emoji-smile", "choice"),
    FieldKind("phone", "手机号", "Mobile phone", "bi-phone", "contact"),
    FieldKind("email", "邮箱", "Email", "bi-envelope", "contact"),
    FieldKind("cn_id", "身份证号", "Resident ID", "bi-person-vcard", "contact"),
    FieldKind("region", "省市区", "Region", "bi-geo-alt", "contact"),
    FieldKind("reference", "关联记录", "Reference", "bi-link-45deg", "link"),
    FieldKind("child_table", "子表", "Child table", "bi-table", "link"),
    FieldKind("user", "人员", "User", "bi-person", "link"),
    FieldKind("department", "部门", "Department", "bi-diagram-3", "link"),
    FieldKind("file", "附件", "Attachments", "bi-paperclip", "file"),
    FieldKind("image", "图片", "Images", "bi-image", "file"),
    FieldKind("computed", "计算字段", "Computed", "bi-braces-asterisk", "advanced"),
    FieldKind("autonumber", "自动编号", "Auto number", "bi-hash", "advanced"),
    FieldKind("json", "结构化数据", "Structured data (JSON)", "bi-code-square", "advanced"),
)
BY_TYPE: dict[str, FieldKind] = {k.type: k for k in KINDS}

ROW_TYPES: tuple[str, ...] = tuple(
    k.type for k in KINDS if k.type not in ("child_table", "file", "image", "json", "autonumber")
)
"""Types a child-table column may have (no nested tables; files and auto numbers belong to records)."""

INDEXABLE_EXCLUDED = ("child_table", "long_text", "json", "multiselect", "tags", "file", "image", "region")
"""Stored as JSON or long text: no index and no unique flag (runtime.blueprints.references.UNINDEXABLE)."""

RESULT_TYPES = ("text", "integer", "decimal", "date", "datetime", "boolean")


def missing_kinds() -> list[str]:
    """Runtime field types without a palette entry (the tests expect none)."""
    return [name for name in FIELD_TYPES if name not in BY_TYPE]


def palette(lang: str) -> list[dict[str, Any]]:
    """The palette groups with their types, as the designer scripts read them."""
    out = []
    for group, names in GROUPS.items():
        items = [
            {
                "type": k.type,
                "label": k.zh if lang == "zh" else k.en,
                "zh": k.zh,
                "en": k.en,
                "icon": k.icon,
                "filter_ops": list(FIELD_TYPES[k.type].filter_ops),
                "sortable": FIELD_TYPES[k.type].sortable,
            }
            for k in KINDS
            if k.group == group
        ]
        out.append({"group": group, "label": names.get(lang, names["zh"]), "items": items})
    return out


def type_label(type_name: str, lang: str) -> str:
    kind = BY_TYPE.get(type_name)
    if kind is None:
        return type_name
    return kind.zh if lang == "zh" else kind.en
