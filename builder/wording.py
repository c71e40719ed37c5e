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


STEP_WORDS: dict[str, tuple[str, str]] = {
    "create_table": ("新建数据表，保存「{entity}」的记录", "A new table for the records of “{entity}”"),
    "add_column": (
        "「{entity}」新增字段「{field}」：加一列，现有记录此项为空",
        "“{entity}” gets the field “{field}”: a new column, empty in existing records",
    ),
    "archive_column": (
        "「{entity}」删除了字段「{field}」：该列改名归档，数据不丢失",
        "“{entity}” loses the field “{field}”: its column is archived, no data is lost",
    ),
    "archive_table": ("「{entity}」已删除：数据表归档保留，数据不丢失", "“{entity}” is removed: its table is archived"),
    "widen_column": (
        "「{entity}」的字段「{field}」可以存更长或更大的值（扩大列）",
        "“{entity}”.“{field}” holds longer or larger values (column widened)",
    ),
    "create_index": ("为「{entity}」建立索引，列表和查询更快", "An index on “{entity}” for faster lists and queries"),
    "drop_index": ("删除「{entity}」上不再需要的索引", "An index on “{entity}” that is no longer needed is dropped"),
    "note": (
        "「{entity}」的「{field}」设置有变化，无需改动数据库",
        "A setting of “{entity}”.“{field}” changed; the database needs no change",
    ),
    "encrypt_column": (
        "「{entity}」的「{field}」改为敏感信息：现有的值加密保存",
        "“{entity}”.“{field}” becomes sensitive: existing values are encrypted",
    ),
    "decrypt_column": (
        "「{entity}」的「{field}」不再是敏感信息：现有的值解密保存",
        "“{entity}”.“{field}” is no longer sensitive: existing values are decrypted",
    ),
    "reindex_column": (
        "「{entity}」的「{field}」重建检索索引",
        "“{entity}”.“{field}”: its search index is rebuilt",
    ),
}


def step_summary(step: Any, entities: list[Any]) -> dict[str, str] | None:
    """A migration step in a department manager's words ({zh, en}), naming the entity and field by their
    labels; None for a step kind without words (the technical description is shown then)."""
    words = STEP_WORDS.get(step.action)
    if words is None:
        return None
    entity = next((e for e in entities if step.table == e.table_name), None)
    child = None
    if entity is None:
        for e in entities:
            child = next((f for f in e.fields if f.type == "child_table" and e.child_table_name(f) == step.table), None)
            if child is not None:
                entity = e
                break
    field = None
    if entity is not None and step.column:
        fields = child.children if child is not None else entity.fields
        field = next((f for f in fields if f.name == step.column), None)
    out = {}
    for i, lang in enumerate(("zh", "en")):
        entity_name = entity.label_in(lang) if entity is not None else step.table
        if child is not None:
            entity_name += " · " + (label_pair(child.label)[i] or child.name)
        field_name = (label_pair(field.label)[i] or field.name) if field is not None else (step.column or "")
        out[lang] = words[i].format(entity=entity_name, field=field_name)
    return out
