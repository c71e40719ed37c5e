"""Validated AST -> a tree of nested Python closures.

Why closures: walking the AST on every evaluation costs a dispatch per node; compiling it
once into closures that call each other leaves only plain function calls at evaluation time
(about a microsecond for a typical condition). Every closure has the signature
``(variables, clock) -> value``. No ``eval``/``exec``/``compile`` is ever applied to user text:
the only code that runs is the code in this package.

Constant sub-expressions (``-1``, ``('3A', '3B')``, ``24 * 60``, ``date(2024, 1, 31)``) are
folded at compile time, which also surfaces their errors (``10 ** 100000``,
``date(2024, 2, 30)``) while the user is typing instead of at the first record save. Only
immutable values are folded, so no evaluation can observe another's mutations.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ..clock import Clock
from .errors import ExpressionError
from .functions import FUNCTIONS, Function
from .limits import check_int
from .operators import (
    ATTRIBUTES,
    BINARY_OPERATORS,
    COMPARISONS,
    index,
    read_attribute,
    slice_of,
    translate,
    unary_minus,
    unary_plus,
)
from .parser import ParsedSource
from .values import type_name

__all__ = ["CompiledExpression", "Evaluator", "compile_tree"]

Evaluator = Callable[[Mapping[str, Any], Clock], Any]


class CompiledExpression(NamedTuple):
    evaluator: Evaluator
    names: dict[str, int | None]  # variable name -> position of first use
    functions: frozenset[str]


class _Code(NamedTuple):
    """A compiled sub-expression; ``is_constant`` means ``value`` is its (immutable) result."""

    run: Evaluator
    is_constant: bool = False
    value: Any = None
    name: str | None = None  # set for a plain variable, so parents can inline the lookup


_IMMUTABLE_SCALARS = (str, int, float, bool, type(None))


def _constant(value: Any) -> _Code:
    return _Code(lambda variables, clock: value, True, value)


def _is_immutable(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_immutable(item) for item in value)
    if isinstance(value, frozenset):
        return True
    return isinstance(value, _IMMUTABLE_SCALARS) or type(value).__module__ in ("decimal", "datetime")


def compile_tree(parsed: ParsedSource) -> CompiledExpression:
    """Compile a tree already validated by :func:`~runtime.expressions.parser.parse`."""
    compiler = _Compiler(parsed)
    code = compiler.compile_node(parsed.tree.body)
    return CompiledExpression(code.run, compiler.names, frozenset(compiler.functions))


class _Compiler:
    def __init__(self, parsed: ParsedSource) -> None:
        self.parsed = parsed
        self.names: dict[str, int | None] = {}
        self.functions: set[str] = set()

    def compile_node(self, node: ast.AST) -> _Code:
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is None:  # the parser refuses these first; kept as a safety net
            raise self._error(f"'{type(node).__name__}' expressions are not supported", node)
        return handler(node)

    def _error(self, message: str, node: ast.AST) -> ExpressionError:
        return ExpressionError(message, position=self.parsed.position(node))

    def _fold(
        self, what: str, function: Callable[..., Any], operands: tuple[Any, ...], position: int | None
    ) -> _Code | None:
        """Compute ``function(*operands)`` now (errors reported at ``position``); None if the
        result is mutable and so must be rebuilt on every evaluation."""
        try:
            value = function(*operands)
        except Exception as exc:  # translated into an ExpressionError with position
            raise translate(exc, what, operands, position) from None
        return _constant(value) if _is_immutable(value) else None

    # --- leaves ----------------------------------------------------------------------------

    def _Constant(self, node: ast.Constant) -> _Code:
        value = node.value
        if isinstance(value, bool) or value is None or isinstance(value, str | float):
            return _constant(value)
        if isinstance(value, int):
            try:
                return _constant(check_int(value))
            except ExpressionError as exc:
                raise self._error(exc.message, node) from None
        kind = {bytes: "byte strings are", complex: "complex numbers are"}.get(type(value), f"{value!r} is")
        raise self._error(f"{kind} not supported", node)

    def _Name(self, node: ast.Name) -> _Code:
        name = node.id
        self.names.setdefault(name, self.parsed.position(node))

        def variable(variables: Mapping[str, Any], clock: Clock) -> Any:
            return variables.get(name)  # missing -> None: forms evaluate partial records

        return _Code(variable, name=name)

    # --- operators -------------------------------------------------------------------------

    def _BinOp(self, node: ast.BinOp) -> _Code:
        # Unroll the left-leaning chain a + b - c ... into [(op, right), ...] (see parser).
        steps: list[ast.BinOp] = []
        base: ast.AST = node
        while isinstance(base, ast.BinOp):
            steps.append(base)
            base = base.left
        steps.reverse()
        accumulated = self.compile_node(base)
        pending: list[tuple[str, Callable[[Any, Any], Any], _Code, int | None]] = []
        for step in steps:
            entry = BINARY_OPERATORS.get(type(step.op))
            if entry is None:
                symbol = _OPERATOR_SYMBOLS.get(type(step.op), type(step.op).__name__)
                raise self._error(f"operator '{symbol}' is not allowed", step)
            symbol, function = entry
            right = self.compile_node(step.right)
            position = self._operator_position(step)
            if not pending and accumulated.is_constant and right.is_constant:
                folded = self._fold(f"'{symbol}'", function, (accumulated.value, right.value), position)
                if folded is not None:
                    accumulated = folded
                    continue
            pending.append((symbol, function, right, position))
        if not pending:
            return accumulated
        if len(pending) == 1:
            return _Code(_apply2(accumulated, *pending[0]))
        return _Code(_chain(accumulated, pending))

    def _operator_position(self, node: ast.BinOp) -> int | None:
        """Position of the operator symbol itself (AST nodes do not record it)."""
        start = self.parsed.end_position(node.left)
        stop = self.parsed.position(node.right)
        if start is None or stop is None:
            return stop
        source = self.parsed.source
        while start < stop and source[start] in " \t\r\n)":
            start += 1
        return start if start < stop else stop

    def _UnaryOp(self, node: ast.UnaryOp) -> _Code:
        operand = self.compile_node(node.operand)
        position = self.parsed.position(node)
        if isinstance(node.op, ast.Not):
            if operand.is_constant:
                return _constant(not operand.value)
            run = operand.run
            return _Code(lambda variables, clock: not run(variables, clock))
        if isinstance(node.op, ast.USub):
            symbol, function = "unary '-'", unary_minus
        elif isinstance(node.op, ast.UAdd):
            symbol, function = "unary '+'", unary_plus
        else:
            raise self._error("operator '~' is not allowed", node)
        if operand.is_constant:
            folded = self._fold(symbol, function, (operand.value,), position)
            if folded is not None:
                return folded
        run = operand.run

        def unary(variables: Mapping[str, Any], clock: Clock) -> Any:
            value = run(variables, clock)
            try:
                return function(value)
            except Exception as exc:
                raise translate(exc, symbol, (value,), position) from None

        return _Code(unary)

    def _BoolOp(self, node: ast.BoolOp) -> _Code:
        parts = [self.compile_node(value) for value in node.values]
        if all(part.is_constant for part in parts):
            result = parts[0].value
            for part in parts[1:]:
                if (isinstance(node.op, ast.And) and not result) or (isinstance(node.op, ast.Or) and result):
                    break
                result = part.value
            return _constant(result)
        runs = tuple(part.run for part in parts)
        if isinstance(node.op, ast.And):
            if len(runs) == 2:
                first, second = runs

                def and2(variables: Mapping[str, Any], clock: Clock) -> Any:
                    value = first(variables, clock)
                    return second(variables, clock) if value else value

                return _Code(and2)

            def and_all(variables: Mapping[str, Any], clock: Clock) -> Any:
                value = None
                for run in runs:
                    value = run(variables, clock)
                    if not value:
                        return value
                return value

            return _Code(and_all)
        if len(runs) == 2:
            first, second = runs

            def or2(variables: Mapping[str, Any], clock: Clock) -> Any:
                value = first(variables, clock)
                return value if value else second(variables, clock)

            return _Code(or2)

        def or_all(variables: Mapping[str, Any], clock: Clock) -> Any:
            value = None
            for run in runs:
                value = run(variables, clock)
                if value:
                    return value
            return value

        return _Code(or_all)

    def _Compare(self, node: ast.Compare) -> _Code:
        left = self.compile_node(node.left)
        steps: list[tuple[str, Callable[[Any, Any], Any], _Code, int | None]] = []
        previous: ast.AST = node.left
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            symbol, function = COMPARISONS[type(op)]
            if isinstance(op, ast.Is | ast.IsNot) and not (_is_none(previous) or _is_none(comparator)):
                raise self._error(
                    f"'{symbol}' can only be used with None (write 'x {symbol} None'); use == for values",
                    comparator,
                )
            if isinstance(op, ast.In | ast.NotIn):
                right = self._membership_container(comparator)
            else:
                right = self.compile_node(comparator)
            steps.append((symbol, function, right, self.parsed.position(comparator)))
            previous = comparator
        if left.is_constant and all(step[2].is_constant for step in steps):
            current = left.value
            for symbol, function, right, position in steps:
                folded = self._fold(f"'{symbol}'", function, (current, right.value), position)
                if folded is None or not folded.value:
                    return _constant(False)
                current = right.value
            return _constant(True)
        if len(steps) == 1:
            return _Code(_apply2(left, *steps[0]))
        return _Code(_compare_chain(left, steps))

    def _membership_container(self, node: ast.AST) -> _Code:
        """``x in [1, 2]`` / ``{1, 2}``: a literal list or set of constants becomes a constant
        tuple, so the common membership test allocates nothing per evaluation."""
        if isinstance(node, ast.List | ast.Set):
            items = [self.compile_node(item) for item in node.elts]
            if all(item.is_constant for item in items):
                return _constant(tuple(item.value for item in items))
        return self.compile_node(node)

    def _IfExp(self, node: ast.IfExp) -> _Code:
        test, body, orelse = self.compile_node(node.test), self.compile_node(node.body), self.compile_node(node.orelse)
        if test.is_constant:
            return body if test.value else orelse
        test_run, body_run, orelse_run = test.run, body.run, orelse.run

        def conditional(variables: Mapping[str, Any], clock: Clock) -> Any:
            if test_run(variables, clock):
                return body_run(variables, clock)
            return orelse_run(variables, clock)

        return _Code(conditional)

    # --- calls, attributes, subscripts -----------------------------------------------------

    def _Call(self, node: ast.Call) -> _Code:
        if isinstance(node.func, ast.Attribute):
            raise self._error(
                f"method calls are not allowed ('.{node.func.attr}(...)'); use a function such as lower(x)",
                node,
            )
        if not isinstance(node.func, ast.Name):
            raise self._error("only built-in functions can be called, by name (e.g. round(x, 2))", node)
        name = node.func.id
        function = FUNCTIONS.get(name)
        if function is None:
            raise self._error(f"function '{name}' is not available", node)
        if node.keywords:
            raise self._error(f"keyword arguments are not supported (in {name}()); pass arguments by position", node)
        count = len(node.args)
        if count < function.min_args or (function.max_args is not None and count > function.max_args):
            raise self._error(f"{function.signature} {_arity(function)}, got {count}", node)
        self.functions.add(name)
        args = [self.compile_node(arg) for arg in node.args]
        if function.check_constants is not None:
            try:
                function.check_constants(tuple(arg.value if arg.is_constant else ... for arg in args))
            except ExpressionError as exc:
                raise self._error(exc.message, node) from None
        if function.pure and all(arg.is_constant for arg in args):
            folded = self._fold(
                f"{name}()", function.impl, tuple(arg.value for arg in args), self.parsed.position(node)
            )
            if folded is not None:
                return folded
        return _Code(_call(function, tuple(arg.run for arg in args), self.parsed.position(node)))

    def _Attribute(self, node: ast.Attribute) -> _Code:
        attribute = node.attr
        if attribute not in ATTRIBUTES:
            allowed = ", ".join(sorted(ATTRIBUTES))
            raise self._error(
                f"attribute '{attribute}' is not available (only date and time parts can be read: {allowed})",
                node,
            )
        run = self.compile_node(node.value).run
        position = self.parsed.position(node)

        def attribute_of(variables: Mapping[str, Any], clock: Clock) -> Any:
            value = run(variables, clock)
            try:
                return read_attribute(value, attribute)
            except Exception as exc:
                raise translate(exc, f"'.{attribute}'", (value,), position) from None

        return _Code(attribute_of)

    def _Subscript(self, node: ast.Subscript) -> _Code:
        target = self.compile_node(node.value).run
        position = self.parsed.position(node)
        if isinstance(node.slice, ast.Slice):
            bounds = tuple(
                self.compile_node(part).run if part is not None else None
                for part in (node.slice.lower, node.slice.upper, node.slice.step)
            )

            def sliced(variables: Mapping[str, Any], clock: Clock) -> Any:
                value = target(variables, clock)
                lower, upper, step = (None if b is None else b(variables, clock) for b in bounds)
                try:
                    return slice_of(value, lower, upper, step)
                except Exception as exc:
                    raise translate(exc, "[:]", (value,), position) from None

            return _Code(sliced)
        key_run = self.compile_node(node.slice).run

        def indexed(variables: Mapping[str, Any], clock: Clock) -> Any:
            value = target(variables, clock)
            key = key_run(variables, clock)
            try:
                return index(value, key)
            except Exception as exc:
                raise translate(exc, "[]", (value, key), position) from None

        return _Code(indexed)

    # --- displays --------------------------------------------------------------------------

    def _Tuple(self, node: ast.Tuple) -> _Code:
        items = [self.compile_node(item) for item in node.elts]
        if all(item.is_constant for item in items):
            return _constant(tuple(item.value for item in items))
        runs = tuple(item.run for item in items)
        return _Code(lambda variables, clock: tuple([run(variables, clock) for run in runs]))

    def _List(self, node: ast.List) -> _Code:
        runs = tuple(self.compile_node(item).run for item in node.elts)  # a new list every time
        return _Code(lambda variables, clock: [run(variables, clock) for run in runs])

    def _Set(self, node: ast.Set) -> _Code:
        items = [self.compile_node(item) for item in node.elts]
        position = self.parsed.position(node)
        if all(item.is_constant for item in items):
            # constant sets fold to a frozenset: same membership, and safe to share
            return _constant(frozenset(item.value for item in items))
        runs = tuple(item.run for item in items)

        def make_set(variables: Mapping[str, Any], clock: Clock) -> Any:
            values = [run(variables, clock) for run in runs]
            try:
                return set(values)
            except TypeError:
                unhashable = next(v for v in values if not _hashable(v))
                raise ExpressionError(f"a {type_name(unhashable)} cannot be put in a set", position=position) from None

        return _Code(make_set)

    def _Dict(self, node: ast.Dict) -> _Code:
        pairs = tuple(
            (self.compile_node(key).run, self.compile_node(value).run)  # type: ignore[arg-type]
            for key, value in zip(node.keys, node.values, strict=True)
        )
        position = self.parsed.position(node)

        def make_dict(variables: Mapping[str, Any], clock: Clock) -> Any:
            result = {}
            for key_run, value_run in pairs:
                key = key_run(variables, clock)
                if not _hashable(key):
                    raise ExpressionError(f"a {type_name(key)} cannot be used as a dictionary key", position=position)
                result[key] = value_run(variables, clock)
            return result

        return _Code(make_dict)


# --- closure factories (module level: they close over only what they need) -----------------


def _apply2(
    left: _Code, symbol: str, function: Callable[[Any, Any], Any], right: _Code, position: int | None
) -> Evaluator:
    """Closure for one binary operator or comparison, specialised for the hot shapes
    ``field OP constant`` and ``expr OP constant`` (one call fewer per evaluation)."""
    what = f"'{symbol}'"
    left_run, right_run = left.run, right.run
    if right.is_constant:
        constant = right.value
        if left.name is not None:
            name = left.name

            def variable_op_constant(variables: Mapping[str, Any], clock: Clock) -> Any:
                a = variables.get(name)
                try:
                    return function(a, constant)
                except Exception as exc:
                    raise translate(exc, what, (a, constant), position) from None

            return variable_op_constant

        def op_constant(variables: Mapping[str, Any], clock: Clock) -> Any:
            a = left_run(variables, clock)
            try:
                return function(a, constant)
            except Exception as exc:
                raise translate(exc, what, (a, constant), position) from None

        return op_constant

    def op(variables: Mapping[str, Any], clock: Clock) -> Any:
        a = left_run(variables, clock)
        b = right_run(variables, clock)
        try:
            return function(a, b)
        except Exception as exc:
            raise translate(exc, what, (a, b), position) from None

    return op


def _chain(base: _Code, steps: list[tuple[str, Callable[[Any, Any], Any], _Code, int | None]]) -> Evaluator:
    base_run = base.run
    plan = tuple((f"'{symbol}'", function, right.run, position) for symbol, function, right, position in steps)

    def chain(variables: Mapping[str, Any], clock: Clock) -> Any:
        a = base_run(variables, clock)
        for what, function, right_run, position in plan:
            b = right_run(variables, clock)
            try:
                a = function(a, b)
            except Exception as exc:
                raise translate(exc, what, (a, b), position) from None
        return a

    return chain


def _compare_chain(left: _Code, steps: list[tuple[str, Callable[[Any, Any], Any], _Code, int | None]]) -> Evaluator:
    left_run = left.run
    plan = tuple((f"'{symbol}'", function, right.run, position) for symbol, function, right, position in steps)

    def compare_chain(variables: Mapping[str, Any], clock: Clock) -> bool:
        a = left_run(variables, clock)
        for what, function, right_run, position in plan:  # a < b < c: b evaluated once
            b = right_run(variables, clock)
            try:
                if not function(a, b):
                    return False
            except Exception as exc:
                raise translate(exc, what, (a, b), position) from None
            a = b
        return True

    return compare_chain


def _call(function: Function, arg_runs: tuple[Evaluator, ...], position: int | None) -> Evaluator:
    impl, what = function.impl, f"{function.name}()"
    if function.uses_clock:

        def call_with_clock(variables: Mapping[str, Any], clock: Clock) -> Any:
            args = [run(variables, clock) for run in arg_runs]
            try:
                return impl(clock, *args)
            except Exception as exc:
                raise translate(exc, what, tuple(args), position) from None

        return call_with_clock
    if len(arg_runs) == 1:
        (only,) = arg_runs

        def call1(variables: Mapping[str, Any], clock: Clock) -> Any:
            arg = only(variables, clock)
            try:
                return impl(arg)
            except Exception as exc:
                raise translate(exc, what, (arg,), position) from None

        return call1
    if len(arg_runs) == 2:
        first, second = arg_runs

        def call2(variables: Mapping[str, Any], clock: Clock) -> Any:
            a = first(variables, clock)
            b = second(variables, clock)
            try:
                return impl(a, b)
            except Exception as exc:
                raise translate(exc, what, (a, b), position) from None

        return call2

    def call(variables: Mapping[str, Any], clock: Clock) -> Any:
        args = [run(variables, clock) for run in arg_runs]
        try:
            return impl(*args)
        except Exception as exc:
            raise translate(exc, what, tuple(args), position) from None

    return call


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _arity(function: Function) -> str:
    if function.max_args is None:
        return f"takes at least {function.min_args} argument{'s' if function.min_args != 1 else ''}"
    if function.min_args == function.max_args:
        plural = "s" if function.max_args != 1 else ""
        return f"takes {function.max_args} argument{plural}"
    return f"takes {function.min_args} to {function.max_args} arguments"


_OPERATOR_SYMBOLS: dict[type, str] = {
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.MatMult: "@",
}
