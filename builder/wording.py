"""Chinese and English words for the parts of a pack, used by the diff and merge summaries."""

from __future__ import annotations

import json
from typing import Any

from runtime.blueprints.loader import kind_of

KINDS: dict[str, tuple[str, str]] = {
    "manifest": ("包信息", "Pack manifest"),
    "menus": ("菜单", "Menus"),
    "entity": ("实体", "Entity"),
    "form": ("表单", "Form"),
    "view": ("视图", "View"),
    "option_set": ("选项集", "Option set"),
    "role": ("角色", "Role"),
    "demo_data": ("演示数据", "Demo data"),
    "rule": ("规则", "Rule"),
    "state_machine": ("状态机", "State machine"),
    "message_template": ("消息模板", "Message template"),
    "followup_plan": ("随访计划", "Follow-up plan"),
    "score": ("评分", "Score"),
    "pool": ("公海池", "Pool"),
    "report": ("报表", "Report"),
    "dashboard": ("仪表盘", "Dashboard"),
    "workflow": ("流程", "Workflow"),
}

NOUNS: dict[str, tuple[str, str]] = {
    "fields": ("字段", "field"),
    "sections": ("分区", "section"),
    "tabs": ("标签页", "tab"),
    "options": ("选项", "option"),
    "columns": ("列", "column"),
    "quick_filters": ("快速筛选", "quick filter"),
    "search_fields": ("搜索字段", "search field"),
    "permissions": ("权限", "permission"),
    "menus": ("菜单", "menu"),
    "items": ("菜单项", "menu item"),
    "validations": ("校验规则", "validation rule"),
    "actions": ("操作", "action"),
    "sort": ("排序", "sort"),
    "states": ("状态", "state"),
    "transitions": ("流转", "transition"),
    "steps": ("步骤", "step"),
    "filters": ("筛选", "filter"),
    "measures": ("指标", "measure"),
    "dimensions": ("维度", "dimension"),
    "widgets": ("组件", "widget"),
}

PROPS: dict[str, tuple[str, str]] = {
    "label": ("名称", "label"),
    "name": ("名称", "name"),
    "required": ("必填", "required"),
    "type": ("类型", "type"),
    "help": ("帮助文字", "help text"),
    "default": ("默认值", "default"),
    "min": ("最小值", "minimum"),
    "max": ("最大值", "maximum"),
    "max_length": ("最大长度", "maximum length"),
    "option_set": ("选项集", "option set"),
    "visible_when": ("显示条件", "visible when"),
    "required_when": ("必填条件", "required when"),
    "read_only": ("只读", "read-only"),
    "read_only_when": ("只读条件", "read-only when"),
    "sensitive": ("敏感", "sensitive"),
    "unique": ("唯一", "unique"),
    "indexed": ("索引", "indexed"),
    "pattern": ("格式", "pattern"),
    "version": ("版本", "version"),
    "description": ("说明", "description"),
    "title_field": ("标题字段", "title field"),
    "entity": ("实体", "entity"),
    "columns": ("列", "columns"),
    "page_size": ("每页条数", "page size"),
    "scope": ("数据范围", "scope"),
    "color": ("颜色", "colour"),
    "icon": ("图标", "icon"),
}


def kind_words(rel: str) -> tuple[str, str]:
    if rel.startswith("workflows/"):
        return KINDS["workflow"]
    kind = kind_of(rel) or ""
    return KINDS.get(kind, (kind or rel, kind or rel))


def noun(prop: str) -> tuple[str, str]:
    return NOUNS.get(prop, (prop, prop))


def prop_words(prop: str) -> tuple[str, str]:
    return PROPS.get(prop, (prop, prop))


def label_pair(label: Any) -> tuple[str, str]:
    """A {"zh","en"} label (or a plain string) as (zh, en) text; '' when absent."""
    if isinstance(label, dict):
        zh, en = label.get("zh") or label.get("en") or "", label.get("en") or label.get("zh") or ""
        return str(zh), str(en)
    if isinstance(label, str):
        return label, label
    return "", ""


def value_text(value: Any, lang: str) -> str:
    """A short rendering of a value for a sentence."""
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, dict) and set(value) <= {"zh", "en"}:
        zh, en = label_pair(value)
        return f"“{zh}”" if lang == "zh" else f"'{en}'"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"“{text}”" if lang == "zh" else f"'{text}'"
