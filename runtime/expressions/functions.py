"""The whitelisted function library: the *only* callables an expression can reach.

Functions are called by plain name (``round(x, 2)``); there are no methods, no way to call
a variable and no keyword arguments, so this table is the whole attack surface of calls.

Conventions, chosen for forms evaluated on partially filled records:

* A function whose main input is None returns None (``year(None)`` is None), except the
  predicates (``contains``, ``startswith``, ``endswith``, ``matches``), which return False,
  and the aggregates (``min``, ``max``, ``sum``, ``avg``, ``concat``, ``coalesce``), which
  skip None items.
* Whole-number arguments accept ints and integral floats/Decimals (``add_days(d, 2.0)``).
* Results are size-checked like operator results (see :mod:`.limits`).

One line per function (shown to builder users by ``describe_functions``):

today()                      current UTC date, from the evaluation clock
now()                        current UTC date and time (naive), from the evaluation clock
date(y, m, d)                build a date
datetime(y, m, d, h, mi, s)  build a datetime; hour, minute and second default to 0
parse_date(s)                ISO text 'YYYY-MM-DD' (or an ISO datetime) to a date
days_between(a, b)           whole calendar days from a to b (b - a); datetimes use their date
hours_between(a, b)          hours from a to b as a float; dates count as midnight
add_days(d, n)               d plus n days (n may be negative)
add_months(d, n)             d plus n months; the day is clamped (Jan 31 + 1 month = Feb 28/29)
add_years(d, n)              d plus n years; Feb 29 becomes Feb 28 in non-leap years
year(d) month(d) day(d)      parts of a date
weekday(d)                   ISO weekday: Monday = 1 ... Sunday = 7
quarter(d)                   1 to 4
len(x)                       length of text, list or dictionary
lower(s) upper(s) strip(s)   change case / trim surrounding whitespace
contains(haystack, needle)   substring test for text, membership test for lists and dictionaries
startswith(s, p) endswith(s, p)
replace(s, old, new)         replace every occurrence
substr(s, start, length)     part of s from 0-based start; length optional (to the end)
concat(*parts)               join parts as text; None parts are skipped
round(x, n)                  round half away from zero to n decimals (default 0); type kept
abs(x) floor(x) ceil(x)      absolute value; round down / up to a whole number
min(*xs) max(*xs)            smallest / largest; accepts one list too; None skipped
sum(xs) avg(xs)              total / mean of a list; None skipped; avg([]) is None
int(x) float(x) str(x) decimal(x)   conversions (int truncates toward zero)
coalesce(*xs)                first argument that is not None
is_empty(x)                  True for None, '', and empty lists, sets and dictionaries
matches(s, pattern)          regular-expression search (see .regex; linear time)
clamp(x, lo, hi)             x limited to [lo, hi]; a None bound means unbounded
exp(x) log(x, base)          e**x; natural logarithm, or logarithm in the given base

Deliberately absent: ``pow`` (use ``**``, which is limited), anything that reflects on
objects (``type``, ``getattr``, ``dir``, ``vars``), and anything with I/O or side effects.
"""

from __future__ import annotations

import calendar
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal
from typing import Any

from ..clock import Clock
from .errors import ExpressionError
from .limits import (
    MAX_INT_DIGITS,
    MAX_ROUND_DIGITS,
    check_int,
    check_text_length,
    int_from_decimal,
)
from .operators import add, gt, lt, truediv
from .operators import contains as _contains_operator
from .regex import compile_regex
from .values import is_number, to_text, type_name

__all__ = ["FUNCTIONS", "Function", "describe_functions"]

_COLLECTIONS = (list, tuple, set, frozenset)
_SIZED = (str, list, tuple, set, frozenset, Mapping)
_MAX_PARSE_LENGTH = 1000
"""Longest text accepted by int()/float()/decimal()/parse_date(); numbers are never longer."""


@dataclass(frozen=True, slots=True)
class Function:
    """A whitelisted function and what the compiler needs to know about it."""

    name: str
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number
    signature: str
    doc: str
    uses_clock: bool = False
    """The implementation receives the evaluation :class:`Clock` as first argument."""
    pure: bool = True
    """Same arguments give the same result, so calls on constants are folded at compile time
    (errors such as ``date(2024, 2, 30)`` then show up in ``check_expression``)."""
    check_constants: Callable[[tuple[Any, ...]], None] | None = None
    """Compile-time validation of constant arguments (``...`` marks a non-constant one)."""


FUNCTIONS: dict[str, Function] = {}
"""Name -> function; the complete list of callables reachable from an expression."""


def _register(
    name: str,
    *,
    uses_clock: bool = False,
    check_constants: Callable[[tuple[Any, ...]], None] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(impl: Callable[..., Any]) -> Callable[..., Any]:
        parameters = list(inspect.signature(impl).parameters.values())
        if uses_clock:
            parameters = parameters[1:]
        variadic = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)
        positional = [p for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        required = [p for p in positional if p.default is inspect.Parameter.empty]
        shown = [p.name if p.default is inspect.Parameter.empty else f"{p.name}?" for p in positional]
        if variadic:
            shown.append("...")
        FUNCTIONS[name] = Function(
            name=name,
            impl=impl,
            min_args=max(len(required), 1 if variadic else 0),
            max_args=None if variadic else len(positional),
            signature=f"{name}({', '.join(shown)})",
            doc=(impl.__doc__ or "").strip().splitlines()[0],
            uses_clock=uses_clock,
            pure=not uses_clock,
            check_constants=check_constants,
        )
        return impl

    return decorator


def describe_functions() -> list[tuple[str, str]]:
    """(signature, one-line description) of every function, for the builder's help panel."""
    return [(f.signature, f.doc) for f in sorted(FUNCTIONS.values(), key=lambda f: f.name)]


# --- argument helpers ---------------------------------------------------------------------


def _whole(value: Any, function: str, what: str) -> int:
    """An integer argument; integral floats/Decimals are accepted (form inputs often are)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float | Decimal):
        if value == value and abs(value) < 10**15 and value == int(value):
            return int(value)
        raise ExpressionError(f"{function}(): {what} must be a whole number, not {value}")
    raise ExpressionError(f"{function}(): {what} must be a whole number, not {type_name(value)}")


def _date(value: Any, function: str) -> date:
    if isinstance(value, date):
        return value
    raise ExpressionError(f"{function}() expects a date, not {type_name(value)}")


def _calendar_date(value: Any, function: str) -> date:
    value = _date(value, function)
    return value.date() if isinstance(value, datetime) else value


def _text(value: Any, function: str) -> str:
    if isinstance(value, str):
        return value
    raise ExpressionError(f"{function}() expects text, not {type_name(value)}")


def _number(value: Any, function: str) -> Any:
    if is_number(value):
        return value
    raise ExpressionError(f"{function}() expects a number, not {type_name(value)}")


def _items(value: Any, function: str) -> list[Any]:
    """The non-None items of a list/tuple/set argument."""
    if isinstance(value, _COLLECTIONS):
        return [item for item in value if item is not None]
    raise ExpressionError(f"{function}() expects a list, not {type_name(value)}")


def _parse_text(value: str, function: str) -> str:
    text = value.strip()
    if len(text) > _MAX_PARSE_LENGTH:
        raise ExpressionError(f"{function}(): text too long to be a number (max {_MAX_PARSE_LENGTH})")
    return text


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


# --- dates ----------------------------------------------------------------------------------


@_register("today", uses_clock=True)
def _today(clock: Clock) -> date:
    """Current UTC date, from the evaluation clock."""
    return clock.today()


@_register("now", uses_clock=True)
def _now(clock: Clock) -> datetime:
    """Current UTC date and time (naive), from the evaluation clock."""
    return clock.now()


@_register("date")
def _make_date(year: Any, month: Any, day: Any) -> date | None:
    """Build a date: date(2024, 1, 31)."""
    if year is None or month is None or day is None:
        return None
    try:
        return date(_whole(year, "date", "year"), _whole(month, "date", "month"), _whole(day, "date", "day"))
    except ValueError as exc:
        raise ExpressionError(f"date(): {exc}") from None


@_register("datetime")
def _make_datetime(year: Any, month: Any, day: Any, hour: Any = 0, minute: Any = 0, second: Any = 0) -> datetime | None:
    """Build a datetime; hour, minute and second default to 0."""
    parts = (year, month, day, hour, minute, second)
    if any(part is None for part in parts):
        return None
    names = ("year", "month", "day", "hour", "minute", "second")
    try:
        return datetime(*(_whole(part, "datetime", name) for part, name in zip(parts, names, strict=True)))
    except ValueError as exc:
        raise ExpressionError(f"datetime(): {exc}") from None


@_register("parse_date")
def _parse_date(text: Any) -> date | None:
    """ISO text 'YYYY-MM-DD' (or an ISO datetime, whose date is kept) to a date; '' gives None."""
    if text is None or isinstance(text, date):
        return text.date() if isinstance(text, datetime) else text
    text = _text(text, "parse_date").strip()
    if not text:
        return None
    if len(text) <= 40:
        try:
            return date.fromisoformat(text)
        except ValueError:
            try:
                return datetime.fromisoformat(text).date()
            except ValueError:
                pass
    raise ExpressionError(f"parse_date(): {_shown(text)} is not a date in YYYY-MM-DD format")


@_register("days_between")
def _days_between(start: Any, end: Any) -> int | None:
    """Whole calendar days from start to end (end - start); None if either is None."""
    if start is None or end is None:
        return None
    return (_calendar_date(end, "days_between") - _calendar_date(start, "days_between")).days


def _as_datetime(value: Any, function: str) -> datetime:
    value = _date(value, function)
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)


@_register("hours_between")
def _hours_between(start: Any, end: Any) -> float | None:
    """Hours from start to end as a float (dates count as midnight); None if either is None."""
    if start is None or end is None:
        return None
    delta = _as_datetime(end, "hours_between") - _as_datetime(start, "hours_between")
    return delta.total_seconds() / 3600


@_register("add_days")
def _add_days(value: Any, days: Any) -> date | None:
    """The date (or datetime) plus n days; n may be negative."""
    if value is None or days is None:
        return None
    return _date(value, "add_days") + timedelta(days=_whole(days, "add_days", "number of days"))


@_register("add_months")
def _add_months(value: Any, months: Any) -> date | None:
    """The date plus n months, day clamped to the month's end (Jan 31 + 1 month = Feb 28/29)."""
    if value is None or months is None:
        return None
    value = _date(value, "add_months")
    months = _whole(months, "add_months", "number of months")
    if abs(months) > 12 * 10_000:
        raise ExpressionError("date out of range")
    year, month0 = divmod(value.year * 12 + value.month - 1 + months, 12)
    if not 1 <= year <= 9999:
        raise ExpressionError("date out of range")
    day = min(value.day, calendar.monthrange(year, month0 + 1)[1])
    return value.replace(year=year, month=month0 + 1, day=day)


@_register("add_years")
def _add_years(value: Any, years: Any) -> date | None:
    """The date plus n years; Feb 29 becomes Feb 28 in non-leap years."""
    if value is None or years is None:
        return None
    return _add_months(value, 12 * _whole(years, "add_years", "number of years"))


@_register("year")
def _year(value: Any) -> int | None:
    """Year of a date."""
    return None if value is None else _date(value, "year").year


@_register("month")
def _month(value: Any) -> int | None:
    """Month of a date, 1 to 12."""
    return None if value is None else _date(value, "month").month


@_register("day")
def _day(value: Any) -> int | None:
    """Day of the month of a date, 1 to 31."""
    return None if value is None else _date(value, "day").day


@_register("weekday")
def _weekday(value: Any) -> int | None:
    """ISO weekday of a date: Monday = 1 ... Sunday = 7."""
    return None if value is None else _date(value, "weekday").isoweekday()


@_register("quarter")
def _quarter(value: Any) -> int | None:
    """Quarter of a date, 1 to 4."""
    return None if value is None else (_date(value, "quarter").month - 1) // 3 + 1


# --- text -----------------------------------------------------------------------------------


@_register("len")
def _len(value: Any) -> int | None:
    """Length of text, list or dictionary."""
    if value is None:
        return None
    if isinstance(value, _SIZED):
        return len(value)
    raise ExpressionError(f"len() expects text or a list, not {type_name(value)}")


@_register("lower")
def _lower(value: Any) -> str | None:
    """Text in lower case."""
    if value is None:
        return None
    result = _text(value, "lower").lower()
    check_text_length(len(result))
    return result


@_register("upper")
def _upper(value: Any) -> str | None:
    """Text in upper case."""
    if value is None:
        return None
    result = _text(value, "upper").upper()  # can grow: 'ß'.upper() == 'SS'
    check_text_length(len(result))
    return result


@_register("strip")
def _strip(value: Any) -> str | None:
    """Text without surrounding whitespace."""
    return None if value is None else _text(value, "strip").strip()


@_register("contains")
def _contains(haystack: Any, needle: Any) -> bool:
    """Substring test for text, membership test for lists/dictionaries; False for None."""
    if haystack is None or needle is None:
        return False
    return _contains_operator(needle, haystack)


@_register("startswith")
def _startswith(text: Any, prefix: Any) -> bool:
    """True if text starts with prefix; False for None."""
    if text is None or prefix is None:
        return False
    return _text(text, "startswith").startswith(_text(prefix, "startswith"))


@_register("endswith")
def _endswith(text: Any, suffix: Any) -> bool:
    """True if text ends with suffix; False for None."""
    if text is None or suffix is None:
        return False
    return _text(text, "endswith").endswith(_text(suffix, "endswith"))


@_register("replace")
def _replace(text: Any, old: Any, new: Any) -> str | None:
    """Text with every occurrence of old replaced by new."""
    if text is None:
        return None
    text, old, new = _text(text, "replace"), _text(old, "replace"), _text(new, "replace")
    occurrences = text.count(old)  # predicted before replacing: 'a'*1e5 -> 'b'*1e5 each
    check_text_length(len(text) + occurrences * (len(new) - len(old)))
    return text.replace(old, new)


@_register("substr")
def _substr(text: Any, start: Any, length: Any = None) -> str | None:
    """Part of text from 0-based start, length characters (to the end if omitted)."""
    if text is None or start is None:
        return None
    text = _text(text, "substr")
    start = _whole(start, "substr", "start")
    if start < 0:
        raise ExpressionError("substr(): start must be 0 or more")
    if length is None:
        return text[start:]
    length = _whole(length, "substr", "length")
    if length < 0:
        raise ExpressionError("substr(): length must be 0 or more")
    return text[start : start + length]


@_register("concat")
def _concat(*parts: Any) -> str:
    """All parts joined as text; None parts are skipped."""
    pieces: list[str] = []
    total = 0
    for part in parts:
        if part is None:
            continue
        piece = to_text(part)
        total += len(piece)
        check_text_length(total)
        pieces.append(piece)
    return "".join(pieces)


# --- numbers --------------------------------------------------------------------------------

_WIDE = Context(prec=MAX_INT_DIGITS + 120, rounding=ROUND_HALF_UP)
"""Enough precision to round any allowed number exactly (the default context has 28 digits)."""


@_register("round")
def _round(value: Any, digits: Any = 0) -> Any:
    """Round half away from zero to n decimals (default 0); int, float and Decimal keep their type."""
    if value is None:
        return None
    value = _number(value, "round")
    digits = _whole(digits, "round", "number of decimals")
    if abs(digits) > MAX_ROUND_DIGITS:
        raise ExpressionError(f"round(): number of decimals must be between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}")
    if isinstance(value, int) and digits >= 0:
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return value
    # Through Decimal(repr(x)) so round(2.675, 2) is 2.68 as typed, not 2.67 as stored.
    exact = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    if not exact.is_finite():
        return value
    rounded = _WIDE.quantize(exact, Decimal(1).scaleb(-digits))
    if isinstance(value, Decimal):
        return rounded
    if isinstance(value, float):
        return float(rounded)
    return check_int(int_from_decimal(rounded))


@_register("abs")
def _abs(value: Any) -> Any:
    """Absolute value of a number or duration."""
    if value is None:
        return None
    if is_number(value) or isinstance(value, timedelta):
        return abs(value)
    raise ExpressionError(f"abs() expects a number, not {type_name(value)}")


def _extreme(values: tuple[Any, ...], better: Callable[[Any, Any], bool]) -> Any:
    if len(values) == 1 and isinstance(values[0], _COLLECTIONS):
        values = tuple(values[0])
    best = None
    for value in values:
        if value is not None and (best is None or better(value, best)):
            best = value
    return best


@_register("min")
def _min(*values: Any) -> Any:
    """Smallest argument (or item of a single list argument); None values are skipped."""
    return _extreme(values, lt)


@_register("max")
def _max(*values: Any) -> Any:
    """Largest argument (or item of a single list argument); None values are skipped."""
    return _extreme(values, gt)


@_register("sum")
def _sum(values: Any) -> Any:
    """Total of a list of numbers; None items are skipped; sum([]) is 0."""
    if values is None:
        return None
    total: Any = 0
    for item in _items(values, "sum"):
        total = add(total, _number(item, "sum"))
    return total


@_register("union")
def _union(*lists: Any) -> list[Any]:
    """Items of every list argument, each once, in first-seen order (merging multiselect values); None skipped."""
    out: list[Any] = []
    for value in lists:
        for item in _items(value, "union") if value is not None else []:
            if item not in out:
                out.append(item)
    return out


@_register("avg")
def _avg(values: Any) -> Any:
    """Mean of a list of numbers; None items are skipped; avg([]) is None."""
    if values is None:
        return None
    items = _items(values, "avg")
    if not items:
        return None
    return truediv(_sum(items), len(items))


def _to_whole(value: Any, function: str, rounding: str) -> int | None:
    if value is None:
        return None
    value = _number(value, function)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(f"{function}() of {value} is not a whole number")
        value = Decimal(value)
    return check_int(int_from_decimal(value.to_integral_value(rounding=rounding)))


@_register("floor")
def _floor(value: Any) -> int | None:
    """Largest whole number <= x."""
    return _to_whole(value, "floor", ROUND_FLOOR)


@_register("ceil")
def _ceil(value: Any) -> int | None:
    """Smallest whole number >= x."""
    return _to_whole(value, "ceil", ROUND_CEILING)


@_register("int")
def _int(value: Any) -> int | None:
    """Whole number from a number (truncated toward zero) or from text such as '42' or '3.5'."""
    if value is None:
        return None
    if isinstance(value, int):
        return int(value)  # also turns True/False into 1/0
    if isinstance(value, str):
        text = _parse_text(value, "int")
        try:
            value = Decimal(text)
        except ArithmeticError:
            raise ExpressionError(f"int(): {_shown(text)} is not a number") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(f"int(): {value} is not a finite number")
        value = Decimal(value)  # exact, so truncation matches Python's int(float)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ExpressionError(f"int(): {value} is not a finite number")
        return check_int(int_from_decimal(value.to_integral_value(rounding=ROUND_DOWN)))
    raise ExpressionError(f"int() expects a number or text, not {type_name(value)}")


@_register("float")
def _float(value: Any) -> float | None:
    """Floating-point number from a number or text."""
    if value is None:
        return None
    if isinstance(value, str):
        text = _parse_text(value, "float")
        try:
            return float(text)
        except ValueError:
            raise ExpressionError(f"float(): {_shown(text)} is not a number") from None
    return float(_number(value, "float"))


@_register("str")
def _str(value: Any) -> str | None:
    """Text form of a value (dates as YYYY-MM-DD); None stays None."""
    return None if value is None else to_text(value)


@_register("decimal")
def _decimal(value: Any) -> Decimal | None:
    """Exact decimal number (for money) from a number or text; floats convert as written."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(int(value))
    if isinstance(value, str):
        text = _parse_text(value, "decimal")
        try:
            return Decimal(text)
        except ArithmeticError:
            raise ExpressionError(f"decimal(): {_shown(text)} is not a number") from None
    raise ExpressionError(f"decimal() expects a number or text, not {type_name(value)}")


@_register("coalesce")
def _coalesce(*values: Any) -> Any:
    """First argument that is not None (None if all are)."""
    for value in values:
        if value is not None:
            return value
    return None


@_register("is_empty")
def _is_empty(value: Any) -> bool:
    """True for None, '' and empty lists, sets and dictionaries."""
    if value is None:
        return True
    if isinstance(value, _SIZED):
        return len(value) == 0
    return False


def _check_pattern(arguments: tuple[Any, ...]) -> None:
    pattern = arguments[1]
    if pattern is not ...:
        if not isinstance(pattern, str):
            raise ExpressionError(f"matches() expects the pattern as text, not {type_name(pattern)}")
        compile_regex(pattern)


@_register("matches", check_constants=_check_pattern)
def _matches(text: Any, pattern: Any) -> bool:
    """True if the regular expression is found in the text (use ^...$ for a full match)."""
    if text is None:
        return False
    _check_pattern((None, pattern))
    return compile_regex(pattern).search(_text(text, "matches"))


@_register("clamp")
def _clamp(value: Any, low: Any, high: Any) -> Any:
    """x limited to the range [lo, hi]; a None bound means unbounded on that side."""
    if value is None:
        return None
    if low is not None and high is not None and gt(low, high):
        raise ExpressionError("clamp(): lower bound is greater than upper bound")
    if low is not None and lt(value, low):
        return low
    if high is not None and gt(value, high):
        return high
    return value


@_register("exp")
def _exp(value: Any) -> float | None:
    """e raised to x (for decay curves in score formulas)."""
    if value is None:
        return None
    return math.exp(float(_number(value, "exp")))


@_register("log")
def _log(value: Any, base: Any = None) -> float | None:
    """Natural logarithm of x, or logarithm in the given base."""
    if value is None:
        return None
    number = float(_number(value, "log"))
    if not number > 0:
        raise ExpressionError("log() needs a number greater than 0")
    if base is None:
        return math.log(number)
    base_number = float(_number(base, "log"))
    if not base_number > 0 or base_number == 1:
        raise ExpressionError("log(): base must be greater than 0 and not 1")
    return math.log(number, base_number)
