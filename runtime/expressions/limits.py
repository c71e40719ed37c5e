"""Resource limits of the expression language, and the guards that enforce them.

Expressions are written by department managers in a no-code builder and run on every record
write, so a typo (or a malicious blueprint) must never be able to freeze a worker or exhaust
memory. The rule everywhere: *predict* the size of a result from its inputs and refuse before
allocating; never compute first and check afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .errors import ExpressionError

__all__ = [
    "MAX_COLLECTION_ITEMS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_INT",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "MAX_POW_BASE",
    "MAX_REGEX_INPUT",
    "MAX_REGEX_LENGTH",
    "MAX_ROUND_DIGITS",
    "MAX_SOURCE_LENGTH",
    "MAX_STRING_LENGTH",
    "check_int",
    "check_items",
    "check_power",
    "check_repetition",
    "check_text_length",
    "int_from_decimal",
    "nested_size",
]

MAX_SOURCE_LENGTH = 5000
"""Characters of expression source; far above any hand-written formula."""
MAX_NODES = 500
"""Syntax-tree elements (names, literals, operators, calls) in one expression."""
MAX_DEPTH = 50
"""Nesting levels; keeps compile and evaluation recursion far below Python's own limit.
A left-to-right chain ``a + b - c + ...`` counts as one level however long it is."""
MAX_EXPONENT = 1000
"""Largest absolute exponent accepted by ``**``."""
MAX_POW_BASE = 10**100
"""Largest absolute integer base accepted by ``**``."""
MAX_INT_DIGITS = 300
MAX_INT = 10**MAX_INT_DIGITS
"""Integers must stay strictly below this in absolute value. It also keeps every integer
convertible to float (max ~1.8e308), so ``/`` on integers cannot overflow."""
MAX_STRING_LENGTH = 100_000
"""Characters in any text the expression builds (``+``, ``*``, concat, replace, str...)."""
MAX_COLLECTION_ITEMS = 10_000
"""Items in a list/tuple built by ``+`` or ``*`` (nested items count too)."""
MAX_REGEX_LENGTH = 200
"""Characters in a ``matches()`` pattern."""
MAX_REGEX_INPUT = 10_000
"""Characters of text ``matches()`` will scan."""
MAX_ROUND_DIGITS = 100
"""Largest absolute ``n`` in ``round(x, n)``."""

_MAX_INT_BITS = MAX_INT.bit_length()


def check_int(value: int) -> int:
    """Refuse integers at or above :data:`MAX_INT` (cheap: a comparison, no allocation)."""
    if -MAX_INT < value < MAX_INT:
        return value
    raise ExpressionError(f"number too large (integers are limited to {MAX_INT_DIGITS} digits)")


def check_text_length(length: int) -> None:
    """Refuse a text result that would exceed :data:`MAX_STRING_LENGTH` characters."""
    if length > MAX_STRING_LENGTH:
        raise ExpressionError(f"string result too long (max {MAX_STRING_LENGTH} characters)")


def check_items(count: int) -> None:
    """Refuse a list/tuple result that would exceed :data:`MAX_COLLECTION_ITEMS` items."""
    if count > MAX_COLLECTION_ITEMS:
        raise ExpressionError(f"list result too long (max {MAX_COLLECTION_ITEMS} items)")


def check_power(base: Any, exponent: Any) -> None:
    """Refuse ``base ** exponent`` when the work or the result would be unbounded.

    Checked before computing: ``10 ** 100000`` would otherwise build a 100000-digit integer
    before any result check could run.
    """
    if isinstance(exponent, bool) or not isinstance(exponent, int | float | Decimal):
        return  # not a number: the operator itself reports the type error
    if not abs(exponent) <= MAX_EXPONENT:  # "not <=" also refuses NaN
        raise ExpressionError(f"exponent too large (max {MAX_EXPONENT})")
    if isinstance(base, int) and not isinstance(base, bool):
        if abs(base) > MAX_POW_BASE:
            raise ExpressionError("base too large for '**' (max 10**100)")
        # (bits - 1) * exponent is a lower bound of the result's size: refuse what is surely
        # too big; anything else is at most ~2000 bits, cheap to compute and then checked.
        if isinstance(exponent, int) and exponent > 0 and (base.bit_length() - 1) * exponent > _MAX_INT_BITS:
            raise ExpressionError(f"number too large (integers are limited to {MAX_INT_DIGITS} digits)")


def check_repetition(sequence: Any, times: int) -> None:
    """Refuse ``sequence * times`` whose result would be too big.

    Text: the result length. Lists/tuples: the *nested* item count and text size, because
    ``[[0] * 10000] * 10000`` holds only 10000 references yet makes ``==``, ``in`` and ``str()``
    walk 10**8 items.
    """
    if times <= 0:
        return
    if isinstance(sequence, str):
        check_text_length(len(sequence) * times)
        return
    items, chars = nested_size(sequence, MAX_COLLECTION_ITEMS, MAX_STRING_LENGTH)
    check_items(items * times)
    check_text_length(chars * times)


def int_from_decimal(value: Decimal) -> int:
    """``int(value)`` for a Decimal, refusing huge exponents *before* Python expands the digits
    (``int(Decimal('1e999999'))`` would allocate a million-digit integer)."""
    if value.is_finite() and value.adjusted() >= MAX_INT_DIGITS:
        raise ExpressionError(f"number too large (integers are limited to {MAX_INT_DIGITS} digits)")
    return int(value)


def nested_size(value: Any, max_items: int, max_chars: int) -> tuple[int, int]:
    """(items, characters) inside ``value``, counting shared references each time they occur.

    Stops as soon as either budget is exceeded, so the walk is bounded by the budgets rather
    than by the size of the value.
    """
    items = chars = 0
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            chars += len(current)
        elif isinstance(current, Mapping | list | tuple | set | frozenset):
            items += len(current)
            if items > max_items:
                break
            if isinstance(current, Mapping):
                stack.extend(current.keys())
                stack.extend(current.values())
            else:
                stack.extend(current)
        if chars > max_chars:
            break
    return items, chars
