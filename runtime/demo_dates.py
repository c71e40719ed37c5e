"""Relative dates in demo files, so shipped demo data never ages.

A demo written with fixed dates looks stale a year later: dashboards show no recent activity, every
contract has expired and every planned visit is overdue. Demo values of these forms are resolved against
the app clock when the demo loads:

- ``@date:-30``  the local calendar date 30 days ago (``@date:+7``, ``@date:0`` likewise)
- ``@datetime:-3 14:30``  that day at 14:30 hospital-local time (stored as UTC like any datetime input)
- ``@month:-5``  the first day of the month five months ago (``@month:0`` is this month)

"Today" is the clock's today(), the same day expressions see (validations like "a signing date cannot be
in the future" compare against it); only the time of day of ``@datetime`` is hospital-local.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from runtime.clock import Clock, local_zone

_DATE = re.compile(r"@date:([+-]?\d{1,5})")
_DATETIME = re.compile(r"@datetime:([+-]?\d{1,5}) ([01]\d|2[0-3]):([0-5]\d)")
_MONTH = re.compile(r"@month:([+-]?\d{1,4})")

PREFIXES = ("date", "datetime", "month")
"""'@<prefix>:...' values that are relative dates, not references to demo records."""


def is_relative_date(value: str) -> bool:
    """Whether a demo value is a well-formed relative date (checked by `tessera pack validate`)."""
    return any(pattern.fullmatch(value) for pattern in (_DATE, _DATETIME, _MONTH))


def resolve_relative_date(value: str, clock: Clock) -> str:
    """The date, datetime (with the local offset) or first-of-month a relative value names, as ISO text:
    demo records go through the records service like JSON input.

    Raises ValueError for a value that starts like a relative date but is malformed, so a typo in a demo
    file is reported instead of being stored as text.
    """
    today = clock.today()
    if match := _DATE.fullmatch(value):
        return (today + timedelta(days=int(match[1]))).isoformat()
    if match := _DATETIME.fullmatch(value):
        return _local_datetime(today + timedelta(days=int(match[1])), int(match[2]), int(match[3]))
    if match := _MONTH.fullmatch(value):
        return _month_start(today, int(match[1])).isoformat()
    raise ValueError(f"demo value {value!r} is not a relative date: use @date:-30, @datetime:-3 14:30 or @month:-5")


def _local_datetime(day: date, hour: int, minute: int) -> str:
    return datetime.combine(day, time(hour, minute), tzinfo=local_zone()).isoformat()


def _month_start(today: date, months: int) -> date:
    index = today.year * 12 + (today.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)
