"""Filters written in the expression language, run as SQL WHERE clauses.

Aggregates of a score (``count visits where outcome == 'done'``) and the "open holdings" of
load-balanced assignment count rows in the database, never by loading rows into Python. Their
``where`` is an expression in the same language as everywhere else, restricted to what maps one to
one onto SQL: comparisons of a field with literal values, ``in``/``not in`` a list of literals,
``is None``/``is not None``, a bare boolean field, and ``and``/``or``/``not``.
"""

from __future__ import annotations

import ast
from typing import Any

import sqlalchemy as sa

from runtime.blueprints.model import Entity

SYSTEM_COLUMNS = ("id", "owner_id", "department_id", "created_at", "updated_at", "created_by", "updated_by")
_OPS = {
    ast.Eq: lambda c, v: c.is_(None) if v is None else c == v,
    ast.NotEq: lambda c, v: c.is_not(None) if v is None else sa.or_(c != v, c.is_(None)),
    ast.Lt: lambda c, v: c < v,
    ast.LtE: lambda c, v: c <= v,
    ast.Gt: lambda c, v: c > v,
    ast.GtE: lambda c, v: c >= v,
    ast.In: lambda c, v: c.in_(v),
    ast.NotIn: lambda c, v: sa.or_(c.not_in(v), c.is_(None)),
    ast.Is: lambda c, v: c.is_(None),
    ast.IsNot: lambda c, v: c.is_not(None),
}


class WhereError(ValueError):
    """The filter cannot run as SQL; the message says which part and what is allowed."""


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str | int | float | bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        value = node.operand.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value
    if isinstance(node, ast.Tuple | ast.List):
        return [_literal(e) for e in node.elts]
    raise WhereError(f"'{ast.unparse(node)}' is not a literal value (text, number, true/false, None or a list)")


def field_names(source: str) -> set[str]:
    """The field names a filter reads (for checks and for knowing which changes matter)."""
    return {n.id for n in ast.walk(_parse(source)) if isinstance(n, ast.Name) and n.id not in ("True", "False")}


def _parse(source: str) -> ast.AST:
    try:
        return ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise WhereError(f"syntax error in '{source}': {exc.msg}") from None


def check_where(source: str, entity: Entity) -> str | None:
    """None when ``source`` runs as SQL on ``entity``, else the reason (pack checks)."""
    try:
        where_clause(source, entity, None)
    except WhereError as exc:
        return str(exc)
    return None


def where_clause(source: str, entity: Entity, table: sa.Table | None) -> sa.ColumnElement[bool]:
    """The SQL form of ``source`` on ``table`` (None: only check it, returning a dummy clause)."""

    def column(node: ast.AST) -> Any:
        if not isinstance(node, ast.Name):
            raise WhereError(f"'{ast.unparse(node)}' must be a field name of '{entity.id}'")
        f = entity.field(node.id)
        if node.id not in SYSTEM_COLUMNS and (f is None or f.type in ("child_table", "file", "image", "json")):
            raise WhereError(f"'{node.id}' is not a field of '{entity.id}' that can be filtered on")
        return sa.literal_column("1") if table is None else table.c[node.id]

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.BoolOp):
            parts = [walk(v) for v in node.values]
            return sa.and_(*parts) if isinstance(node.op, ast.And) else sa.or_(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return sa.not_(walk(node.operand))
        if isinstance(node, ast.Name):
            return column(node).is_(True) if table is not None else sa.true()
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise WhereError(f"'{ast.unparse(node)}': write chained comparisons with 'and'")
            op = type(node.ops[0])
            if op not in _OPS:
                raise WhereError(f"'{ast.unparse(node)}': operator not supported")
            col, value = column(node.left), _literal(node.comparators[0])
            if op in (ast.In, ast.NotIn) and not isinstance(value, list):
                raise WhereError(f"'{ast.unparse(node)}': 'in' needs a list such as ('a', 'b')")
            if op in (ast.Is, ast.IsNot) and value is not None:
                raise WhereError(f"'{ast.unparse(node)}': 'is' only compares with None")
            return _OPS[op](col, value) if table is not None else sa.true()
        raise WhereError(
            f"'{ast.unparse(node)}' cannot run in the database: use field comparisons with literal values, "
            "in/not in, is None, and/or/not"
        )

    return walk(_parse(source))
