"""Operators of the expression language: ``+ - * / // % **``, comparisons, ``in``, indexing,
slicing and the date-part attributes.

Semantics differ from plain Python in three deliberate ways, because conditions and computed
fields run on *partially filled* records and on money values:

* **None propagates.** Arithmetic with None gives None (a computed field over empty inputs
  stays empty); ordering comparisons (``< <= > >=``) with None on either side are False;
  ``== !=`` behave normally; ``x in None`` is False; ``None[0]`` and ``None.year`` are None.
* **Decimal and float mix.** The float is converted through ``repr`` (see
  :func:`~runtime.expressions.values.align_decimal`) instead of raising ``TypeError``.
* **Sizes are bounded.** Every operator that can grow a value checks the predicted size
  against :mod:`~runtime.expressions.limits` *before* computing it.

Missing keys and out-of-range positions give None too (``d['absent']``, ``items[99]``),
for the same partially-filled-record reason.

Each operator is a plain function of already-evaluated operands. They raise
:class:`ExpressionError` or an ordinary Python exception; the compiled closure passes the
latter through :func:`translate` to get one plain-English error with a position.
"""

from __future__ import annotations

import ast
import decimal
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from .errors import ExpressionError
from .limits import MAX_INT, check_int, check_items, check_power, check_repetition, check_text_length
from .values import VALUE_TYPES, align_decimal, is_number, type_name

__all__ = [
    "ATTRIBUTES",
    "BINARY_OPERATORS",
    "COMPARISONS",
    "index",
    "read_attribute",
    "slice_of",
    "translate",
    "unary_minus",
    "unary_plus",
]


# isinstance() targets as prebuilt tuples: a ``list | tuple`` union would be rebuilt per call.
_LISTS = (list, tuple)
_REPEATABLE = (str, list, tuple)
_CONTAINERS = (list, tuple, set, frozenset, Mapping)


# --- arithmetic ---------------------------------------------------------------------------


def _checked(result: Any) -> Any:
    """Refuse results that escape the language's value domain (huge ints, complex numbers)."""
    kind = type(result)
    if kind is int:
        return check_int(result)
    if kind is complex:  # e.g. (-8) ** 0.5
        raise ExpressionError("result is not a real number")
    return result


def _generic(op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """Apply ``op`` to whitelisted value types only, mixing Decimal and float."""
    if not isinstance(a, VALUE_TYPES) or not isinstance(b, VALUE_TYPES):
        raise TypeError("unsupported operand types")
    a, b = align_decimal(a, b)
    return _checked(op(a, b))


def add(a: Any, b: Any) -> Any:
    kind = type(a)
    if kind is type(b):  # fast path for the common number cases
        if kind is int:
            result = a + b
            return result if -MAX_INT < result < MAX_INT else check_int(result)
        if kind is float:
            return a + b
    if a is None or b is None:
        return None
    if isinstance(a, str) and isinstance(b, str):
        check_text_length(len(a) + len(b))
        return a + b
    if isinstance(a, _LISTS) and isinstance(b, _LISTS):
        check_items(len(a) + len(b))
    elif isinstance(a, date) and is_number(b) or is_number(a) and isinstance(b, date):
        raise ExpressionError("cannot add a number to a date; use add_days(date, n)")
    return _generic(operator.add, a, b)


def sub(a: Any, b: Any) -> Any:
    kind = type(a)
    if kind is type(b):
        if kind is int:
            result = a - b
            return result if -MAX_INT < result < MAX_INT else check_int(result)
        if kind is float:
            return a - b
    if a is None or b is None:
        return None
    if isinstance(a, date) and is_number(b):
        raise ExpressionError("cannot subtract a number from a date; use add_days(date, -n)")
    return _generic(operator.sub, a, b)


def mul(a: Any, b: Any) -> Any:
    kind = type(a)
    if kind is type(b):
        if kind is int:
            result = a * b  # both operands < 10**300, so at most 600 digits: cheap
            return result if -MAX_INT < result < MAX_INT else check_int(result)
        if kind is float:
            return a * b
    if a is None or b is None:
        return None
    if isinstance(a, _REPEATABLE) and isinstance(b, int):
        check_repetition(a, b)
    elif isinstance(b, _REPEATABLE) and isinstance(a, int):
        check_repetition(b, a)
    return _generic(operator.mul, a, b)


def truediv(a: Any, b: Any) -> Any:
    kind = type(a)
    if kind is type(b) and (kind is float or kind is int):
        return a / b  # ints are < 10**300, so the float result cannot overflow
    if a is None or b is None:
        return None
    return _generic(operator.truediv, a, b)


def _numeric_only(symbol: str, a: Any, b: Any) -> None:
    """``//``, ``%`` and ``**`` are for numbers (and durations). In particular ``'%s' % x``
    is Python string formatting, whose width field (``'%999999999d'``) allocates at will."""
    for value in (a, b):
        if not (is_number(value) or isinstance(value, timedelta)):
            raise ExpressionError(f"cannot use '{symbol}' with {type_name(a)} and {type_name(b)}")


def floordiv(a: Any, b: Any) -> Any:
    kind = type(a)
    if kind is type(b) and (kind is float or kind is int):
        return a // b
    if a is None or b is None:
        return None
    _numeric_only("//", a, b)
    return _generic(operator.floordiv, a, b)


def mod(a: Any, b: Any) -> Any:
    kind = type(a)
    if kind is type(b) and (kind is float or kind is int):
        return a % b
    if a is None or b is None:
        return None
    _numeric_only("%", a, b)
    return _generic(operator.mod, a, b)


def power(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    for value in (a, b):
        if not is_number(value):
            raise ExpressionError(f"cannot use '**' with {type_name(a)} and {type_name(b)}")
    check_power(a, b)
    return _generic(operator.pow, a, b)


def unary_minus(a: Any) -> Any:
    if a is None:
        return None
    if is_number(a) or isinstance(a, timedelta):
        return -a  # MAX_INT is symmetric, so negation cannot leave the int range
    raise ExpressionError(f"cannot use unary '-' with {type_name(a)}")


def unary_plus(a: Any) -> Any:
    if a is None:
        return None
    if is_number(a) or isinstance(a, timedelta):
        return +a
    raise ExpressionError(f"cannot use unary '+' with {type_name(a)}")


# --- comparisons --------------------------------------------------------------------------


def eq(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        a, b = align_decimal(a, b)
    return a == b


def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def lt(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if type(a) is not type(b):
        a, b = align_decimal(a, b)
    return a < b


def le(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if type(a) is not type(b):
        a, b = align_decimal(a, b)
    return a <= b


def gt(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if type(a) is not type(b):
        a, b = align_decimal(a, b)
    return a > b


def ge(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if type(a) is not type(b):
        a, b = align_decimal(a, b)
    return a >= b


def contains(item: Any, container: Any) -> bool:
    """``item in container``; False when the container is None."""
    if container is None:
        return False
    if isinstance(container, str):
        if item is None:
            return False
        if not isinstance(item, str):
            raise ExpressionError(f"cannot test whether {type_name(item)} is in text")
        return item in container
    if isinstance(container, _CONTAINERS):
        return item in container
    raise ExpressionError(f"cannot use 'in' with {type_name(container)}")


def not_contains(item: Any, container: Any) -> bool:
    return not contains(item, container)


BINARY_OPERATORS: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    # ast operator class -> (symbol for messages, implementation). Bitwise operators and
    # ``@`` are absent on purpose: ``1 << 10**9`` is a memory bomb and none is needed.
    ast.Add: ("+", add),
    ast.Sub: ("-", sub),
    ast.Mult: ("*", mul),
    ast.Div: ("/", truediv),
    ast.FloorDiv: ("//", floordiv),
    ast.Mod: ("%", mod),
    ast.Pow: ("**", power),
}

COMPARISONS: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Eq: ("==", eq),
    ast.NotEq: ("!=", ne),
    ast.Lt: ("<", lt),
    ast.LtE: ("<=", le),
    ast.Gt: (">", gt),
    ast.GtE: (">=", ge),
    ast.In: ("in", contains),
    ast.NotIn: ("not in", not_contains),
    # the compiler only accepts these with a literal None on one side
    ast.Is: ("is", operator.is_),
    ast.IsNot: ("is not", operator.is_not),
}


# --- attributes, indexing, slicing --------------------------------------------------------

_ATTRIBUTES_BY_TYPE: tuple[tuple[type, frozenset[str], str], ...] = (
    # datetime first: it is a subclass of date
    (datetime, frozenset({"year", "month", "day", "hour", "minute", "second"}), "datetime"),
    (date, frozenset({"year", "month", "day"}), "date"),
    (time, frozenset({"hour", "minute", "second"}), "time"),
    (timedelta, frozenset({"days", "seconds"}), "duration"),
)
ATTRIBUTES: frozenset[str] = frozenset().union(*(names for _, names, _ in _ATTRIBUTES_BY_TYPE))
"""The only attribute names an expression may read; all are plain data, none callable."""


def read_attribute(obj: Any, name: str) -> Any:
    """``obj.name`` for the date/time parts in :data:`ATTRIBUTES`; None stays None."""
    if obj is None:
        return None
    for cls, names, label in _ATTRIBUTES_BY_TYPE:
        if isinstance(obj, cls):
            if name in names:
                return getattr(obj, name)
            raise ExpressionError(f"'{name}' is not available on a {label}")
    raise ExpressionError(
        f"attribute '{name}' can only be read from a date, datetime, time or duration, not {type_name(obj)}"
    )


def index(obj: Any, key: Any) -> Any:
    """``obj[key]``; None for a None object, a missing key or an out-of-range position."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)  # .get, not [], so a defaultdict never grows a key
    if isinstance(obj, Sequence):
        if isinstance(key, bool) or not isinstance(key, int):
            raise ExpressionError(f"position in {type_name(obj)} must be a whole number, not {type_name(key)}")
        if -len(obj) <= key < len(obj):
            return obj[key]
        return None
    raise ExpressionError(f"cannot use [...] on {type_name(obj)}")


def slice_of(obj: Any, lower: Any, upper: Any, step: Any) -> Any:
    """``obj[lower:upper:step]`` for text and lists; bounds beyond the ends are clamped."""
    if obj is None:
        return None
    if not isinstance(obj, _REPEATABLE):
        raise ExpressionError(f"cannot slice {type_name(obj)}")
    for bound in (lower, upper, step):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
            raise ExpressionError(f"slice bounds must be whole numbers, not {type_name(bound)}")
    if step == 0:
        raise ExpressionError("slice step cannot be zero")
    return obj[lower:upper:step]


# --- error translation --------------------------------------------------------------------


def translate(exc: BaseException, what: str, operands: tuple[Any, ...], position: int | None) -> ExpressionError:
    """Turn whatever applying ``what`` raised into one positioned :class:`ExpressionError`.

    ``what`` names the operation for the message ("'+'", "round()"). An ExpressionError
    raised deeper keeps its own, more precise, position.
    """
    if isinstance(exc, ExpressionError):
        error = exc
    elif isinstance(exc, ZeroDivisionError):  # includes decimal.DivisionByZero
        error = ExpressionError("division by zero")
    elif isinstance(exc, OverflowError | decimal.Overflow):
        dated = any(isinstance(value, date | timedelta) for value in operands)
        error = ExpressionError("date out of range" if dated else "number too large")
    elif isinstance(exc, decimal.InvalidOperation):
        error = ExpressionError(f"invalid number operation in {what}")
    elif isinstance(exc, TypeError):
        types = " and ".join(type_name(value) for value in operands)
        error = ExpressionError(f"cannot use {what} with {types}")
    elif isinstance(exc, RecursionError):
        error = ExpressionError("expression nested too deeply")
    elif isinstance(exc, MemoryError):
        error = ExpressionError("expression needs too much memory")
    else:
        error = ExpressionError(f"{what} failed: {exc}")
    if error.position is None:
        error.position = position
    return error
