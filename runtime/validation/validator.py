"""Two validators built from the same generated schema.

fastjsonschema compiles the schema to Python code and answers "valid?" in microseconds, which
matters because every write from every channel passes here. When a record is invalid the
reference `jsonschema` validator runs once more to list every problem per field in plain words
(fastjsonschema stops at the first error and its messages are not meant for users).
"""

from __future__ import annotations

from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from runtime.fields.formats import FORMAT_CHECKS, FORMAT_MESSAGES
from runtime.validation.errors import FieldError

_MESSAGES = {
    "required": {"zh": "必填", "en": "is required"},
    "type": {"zh": "类型不正确，应为{expected}", "en": "must be {expected}"},
    "enum": {"zh": "不是可选的值", "en": "is not one of the allowed options"},
    "maxLength": {"zh": "最多 {limit} 个字符", "en": "must be at most {limit} characters"},
    "minLength": {"zh": "至少 {limit} 个字符", "en": "must be at least {limit} characters"},
    "minimum": {"zh": "不能小于 {limit}", "en": "must be at least {limit}"},
    "maximum": {"zh": "不能大于 {limit}", "en": "must be at most {limit}"},
    "pattern": {"zh": "格式不正确", "en": "does not have the expected format"},
    "maxItems": {"zh": "最多 {limit} 项", "en": "must have at most {limit} items"},
    "minItems": {"zh": "至少 {limit} 项", "en": "must have at least {limit} items"},
    "uniqueItems": {"zh": "有重复的项", "en": "has duplicate items"},
    "additionalProperties": {"zh": "不是此表单的字段", "en": "is not a field of this record"},
}
_TYPE_NAMES = {
    "string": ("文本", "text"),
    "integer": ("整数", "a whole number"),
    "number": ("数字", "a number"),
    "boolean": ("是/否", "true or false"),
    "array": ("列表", "a list"),
    "object": ("对象", "an object"),
    "null": ("空", "empty"),
}


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, check in FORMAT_CHECKS.items():
        checker.checks(name)(lambda value, check=check: not isinstance(value, str) or check(value))
    return checker


class EntityValidator:
    def __init__(self, schema: dict[str, Any]):
        self.schema = schema
        formats = {name: (lambda v, c=check: c(v)) for name, check in FORMAT_CHECKS.items()}
        self._fast = fastjsonschema.compile(schema, formats=formats)
        self._reference = Draft202012Validator(schema, format_checker=_format_checker())

    def is_valid(self, record: dict[str, Any]) -> bool:
        try:
            self._fast(record)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    def errors(self, record: dict[str, Any], lang: str = "zh") -> list[FieldError]:
        """Every problem, one FieldError per field (the first problem of each field is enough for a form)."""
        if self.is_valid(record):
            return []
        seen: dict[str, FieldError] = {}
        for err in sorted(self._reference.iter_errors(record), key=lambda e: list(map(str, e.absolute_path))):
            for fe in _to_field_errors(err, lang):
                seen.setdefault(fe.field, fe)
        return list(seen.values())


def _to_field_errors(err: ValidationError, lang: str) -> list[FieldError]:
    path = ".".join(str(p) for p in err.absolute_path)
    v = err.validator
    if v == "required":
        missing = err.message.split("'")[1]
        return [FieldError(f"{path}.{missing}" if path else missing, _msg("required", lang), "required")]
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return [
            FieldError(f"{path}.{x}" if path else x, _msg("additionalProperties", lang), "unknown_field") for x in extra
        ]
    if v == "format":
        texts = FORMAT_MESSAGES.get(err.validator_value, {})
        return [FieldError(path, texts.get(lang) or texts.get("en") or err.message, "format")]
    if v == "type":
        expected = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        names = [_TYPE_NAMES.get(t, (t, t))[0 if lang == "zh" else 1] for t in expected if t != "null"]
        return [FieldError(path, _msg("type", lang, expected=" / ".join(names)), "type")]
    if v in _MESSAGES:
        return [FieldError(path, _msg(v, lang, limit=err.validator_value), v)]
    return [FieldError(path, err.message, str(v))]


def _msg(key: str, lang: str, **params: Any) -> str:
    texts = _MESSAGES[key]
    return (texts.get(lang) or texts["en"]).format(**params)
