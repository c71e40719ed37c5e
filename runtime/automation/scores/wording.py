"""A component's ``where`` condition in the words of the page ("状态 为 已完成"), for the score explanation.

Why: the explanation is read by liaisons and managers, who know fields and options by their labels, not the
expression the pack author wrote (``status == 'done'``). The usual shapes (a field equal to, not equal to, or
in a list of literal values, joined by ``and``) are put in words with the entity's field and option labels;
anything else is shown as written, which is still exact.
"""

from __future__ import annotations

import ast
from typing import Any

from runtime.blueprints.model import Entity, label_text

_OPS = {ast.Eq: ("为", "is"), ast.NotEq: ("不为", "is not"), ast.In: ("为", "is"), ast.NotIn: ("不为", "is not")}
_JOIN = {"zh": "且", "en": " and "}
_OR = {"zh": "或", "en": " or "}


def condition_words(registry: Any, entity: Entity, where: str, lang: str) -> str:
    """``where`` in words in ``lang`` ('zh' or 'en'), or as written when its shape is not a simple one."""
    try:
        tree = ast.parse(where.strip(), mode="eval").body
    except SyntaxError:
        return where
    parts = tree.values if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [tree]
    words = [_comparison(registry, entity, part, lang) for part in parts]
    if any(w is None for w in words):
        return where
    return _JOIN[lang].join(w for w in words if w is not None)


def _comparison(registry: Any, entity: Entity, node: ast.expr, lang: str) -> str | None:
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.left, ast.Name)):
        return None
    op = _OPS.get(type(node.ops[0]))
    field = entity.field(node.left.id)
    if op is None or field is None:
        return None
    right = node.comparators[0]
    literals = right.elts if isinstance(right, ast.List | ast.Tuple) else [right]
    if not literals or not all(isinstance(v, ast.Constant) for v in literals):
        return None
    listed = isinstance(right, ast.List | ast.Tuple)
    if listed != isinstance(node.ops[0], ast.In | ast.NotIn):  # `x == [..]`, `x in 'text'`: not these shapes
        return None
    oset = registry.option_sets.get(field.opt("option_set") or "")
    values = [_value(oset, v.value, lang) for v in literals]  # type: ignore[attr-defined]
    verb = op[0] if lang == "zh" else op[1]
    return f"{field.label_in(lang)} {verb} {_OR[lang].join(values)}"


def _value(oset: Any, value: Any, lang: str) -> str:
    if value is None:
        return "空" if lang == "zh" else "empty"
    opt = oset.find(value) if oset is not None and isinstance(value, str) else None
    return label_text(opt.label, lang) if opt is not None else str(value)
