"""Value helpers shared by operators and functions: friendly type names, Decimal/float
mixing, and size-bounded conversion to text.

Error messages talk to department managers, so types are named the way the builder names
fields ("text", "number", "date"), not Python's ``str``/``int``/``datetime.date``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from .limits import MAX_COLLECTION_ITEMS, MAX_STRING_LENGTH, check_text_length, nested_size

__all__ = ["NUMBER_TYPES", "VALUE_TYPES", "align_decimal", "is_number", "to_text", "type_name"]

NUMBER_TYPES = (int, float, Decimal)
"""Numbers (``bool`` is included through ``int``)."""

VALUE_TYPES = (
    str,
    int,
    float,
    Decimal,
    list,
    tuple,
    dict,
    set,
    frozenset,
    date,
    time,
    timedelta,
    Mapping,
)
"""Types the operators work on. Anything else (an ORM object a caller put into the
variables, say) is refused rather than handed to its own, unknown ``__add__``."""


def type_name(value: Any) -> str:
    """Builder-vocabulary name of a value's type, for error messages."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, NUMBER_TYPES):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    if isinstance(value, timedelta):
        return "duration"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "dictionary"
    if isinstance(value, set | frozenset):
        return "set"
    return f"value of type {type(value).__name__}"


def is_number(value: Any) -> bool:
    """True for int/float/Decimal (booleans count as 0/1, as in Python)."""
    return isinstance(value, NUMBER_TYPES)


def align_decimal(a: Any, b: Any) -> tuple[Any, Any]:
    """Let Decimal (money) and float mix: the float becomes ``Decimal(repr(f))``.

    Python raises ``TypeError`` for ``Decimal + float``; converting through ``repr`` turns
    ``0.1`` into ``Decimal('0.1')`` (what the user typed) rather than the binary expansion
    ``0.1000000000000000055...``, so ``price == 0.1`` behaves as a manager expects.
    """
    if isinstance(a, Decimal):
        if isinstance(b, float):
            return a, Decimal(repr(b))
    elif isinstance(b, Decimal) and isinstance(a, float):
        return Decimal(repr(a)), b
    return a, b


def to_text(value: Any) -> str:
    """``str(value)`` whose size is bounded *before* conversion.

    ``str()`` of ``['x' * 100000] * 10000`` would build a 10**9-character string, so
    collections are measured first (each item renders as at least one character).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset | Mapping):
        items, chars = nested_size(value, MAX_COLLECTION_ITEMS, MAX_STRING_LENGTH)
        check_text_length(items * 2 + chars)
    text = str(value)
    check_text_length(len(text))
    return text
