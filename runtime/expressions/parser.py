"""Source text -> validated Python AST.

This is the first line of defence: it enforces the size limits and refuses every syntactic
construct outside the language *before* the compiler looks at meaning. Checks are iterative
(an explicit stack, not recursion), so a hostile, deeply nested tree cannot crash the
validator itself; only after this pass is the tree known to be at most ``MAX_DEPTH`` deep and
safe for the recursive compiler.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

from .errors import ExpressionError
from .limits import MAX_DEPTH, MAX_NODES, MAX_SOURCE_LENGTH

__all__ = ["ParsedSource", "parse"]

_NESTED_TOO_DEEPLY = f"expression nested too deeply (max {MAX_DEPTH} levels)"

_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda functions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.JoinedStr: "f-strings are not allowed; build text with concat(...) or +",
    ast.FormattedValue: "f-strings are not allowed; build text with concat(...) or +",
    ast.Starred: "star unpacking (*) is not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}

_ALLOWED: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.keyword,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.Dict,
)

# Parts of the tree that are markers, not elements: they are neither counted nor nested.
_MARKERS = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)


@dataclass(frozen=True, slots=True)
class ParsedSource:
    """A validated tree plus what is needed to map AST positions back to the source."""

    source: str
    tree: ast.Expression
    _skipped: int  # leading whitespace removed before parsing
    _line_starts: tuple[int, ...]  # offsets in the parsed text where each line starts

    def position(self, node: ast.AST) -> int | None:
        """0-based character offset in ``source`` of ``node`` (AST offsets are UTF-8 bytes)."""
        lineno = getattr(node, "lineno", None)
        col = getattr(node, "col_offset", None)
        if lineno is None or col is None:
            return None
        return self._offset(lineno, col, in_bytes=True)

    def end_position(self, node: ast.AST) -> int | None:
        lineno = getattr(node, "end_lineno", None)
        col = getattr(node, "end_col_offset", None)
        if lineno is None or col is None:
            return None
        return self._offset(lineno, col, in_bytes=True)

    def _offset(self, lineno: int, col: int, *, in_bytes: bool) -> int:
        start = self._line_starts[min(lineno, len(self._line_starts)) - 1]
        if in_bytes:
            line = self.source[self._skipped + start :].split("\n", 1)[0]
            if not line.isascii():
                col = len(line.encode("utf-8")[:col].decode("utf-8", "ignore"))
        return self._skipped + start + col


def parse(source: str) -> ParsedSource:
    """Parse ``source`` as one expression and validate its shape; raise ExpressionError."""
    if not isinstance(source, str):
        raise ExpressionError(f"expression must be text, not {type(source).__name__}")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(f"expression too long (max {MAX_SOURCE_LENGTH} characters)")
    text = source.lstrip()  # eval mode rejects leading indentation; positions are shifted back
    if not text.strip():
        raise ExpressionError("expression is empty")
    skipped = len(source) - len(text)
    line_starts = [0]
    line_starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
    tree = _parse_python(text, source, skipped, tuple(line_starts))
    parsed = ParsedSource(source, tree, skipped, tuple(line_starts))
    _validate(parsed)
    return parsed


def _parse_python(text: str, source: str, skipped: int, line_starts: tuple[int, ...]) -> ast.Expression:
    try:
        with warnings.catch_warnings():
            # e.g. "invalid escape sequence '\d'" in a regex literal: harmless, keep quiet
            warnings.simplefilter("ignore")
            return ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise _syntax_error(exc, source, skipped, line_starts) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(_NESTED_TOO_DEEPLY) from None
    except ValueError as exc:  # e.g. "source code string cannot contain null bytes"
        raise ExpressionError(f"syntax error: {exc}") from None


def _syntax_error(exc: SyntaxError, source: str, skipped: int, line_starts: tuple[int, ...]) -> ExpressionError:
    """Python's SyntaxError, reworded for builder users and positioned in ``source``."""
    message = exc.msg or "invalid syntax"
    if exc.lineno is None or not exc.offset or exc.lineno > len(line_starts):
        # offset 0: the parser ran out of input ("beds >", "a + (b")
        position = len(source.rstrip())
        if message == "invalid syntax":
            message = "the expression is incomplete"
    else:
        position = min(skipped + line_starts[exc.lineno - 1] + exc.offset - 1, len(source))
    if "too many nested parentheses" in message:
        return ExpressionError(_NESTED_TOO_DEEPLY, position=position)
    if "integer string conversion" in message:
        return ExpressionError("number too large", position=position)
    if (
        message.startswith("invalid syntax")
        and source[position : position + 2].startswith("=")
        and (source[position + 1 : position + 2] != "=")
    ):
        message = "'=' is not allowed here; use '==' to compare"
    return ExpressionError(f"syntax error: {message}", position=position)


def _validate(parsed: ParsedSource) -> None:
    """Count, measure depth and refuse forbidden syntax, pre-order, first problem wins.

    Depth: a child is one level deeper than its parent, except the *left* operand of a
    binary operator that is itself a binary operator, because the compiler evaluates such
    left-leaning chains (``a + b - c + ...``) in a loop rather than by recursion.
    """
    count = 0
    stack: list[tuple[ast.AST, int]] = [(parsed.tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _MARKERS):
            continue
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"expression too complex (max {MAX_NODES} elements)", position=None)
        if depth > MAX_DEPTH:
            raise ExpressionError(_NESTED_TOO_DEEPLY, position=parsed.position(node))
        _check_node(parsed, node)
        children = list(ast.iter_child_nodes(node))
        for child in reversed(children):  # reversed: the stack then yields them in source order
            same_level = isinstance(node, ast.BinOp) and child is node.left and isinstance(child, ast.BinOp)
            stack.append((child, depth if same_level else depth + 1))


def _check_node(parsed: ParsedSource, node: ast.AST) -> None:
    position = parsed.position(node)
    message = _FORBIDDEN.get(type(node))
    if message is not None:
        raise ExpressionError(message, position=position)
    if not isinstance(node, _ALLOWED):
        raise ExpressionError(f"'{type(node).__name__}' expressions are not supported", position=position)
    if isinstance(node, ast.Name) and node.id.startswith("__"):
        raise ExpressionError(
            f"name '{node.id}' is not allowed (names starting with '__' are reserved)", position=position
        )
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        # The attribute name follows the dot; point there rather than at the object.
        end = parsed.end_position(node)
        attr_position = end - len(node.attr) if end is not None else position
        raise ExpressionError(f"access to '{node.attr}' is not allowed", position=attr_position)
    if isinstance(node, ast.Dict) and any(key is None for key in node.keys):
        raise ExpressionError("dictionary unpacking (**) is not allowed", position=position)
    if isinstance(node, ast.keyword) and node.arg is None:
        raise ExpressionError("keyword argument unpacking (**) is not allowed", position=position)
