"""Time sources for the runtime.

Anything in Tessera that asks "what time is it?" (expressions calling ``today()``, SLA timers,
scheduled automations, audit stamps) should take a :class:`Clock` instead of calling
``datetime.now()`` directly. That single seam is what lets tests freeze or fast-forward time
(``FixedClock``) and lets every part of one request agree on the same instant.

Convention: ``now()`` returns a *naive* ``datetime`` expressed in UTC. Naive values are used
because blueprint date/datetime fields are stored naive-UTC; mixing aware and naive datetimes
raises ``TypeError`` in Python, so one convention is enforced at the source. ``today()`` is
therefore the UTC calendar date, which can differ from the hospital's local date around
midnight; converting to a local timezone is the caller's job.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Clock", "FixedClock", "SystemClock"]


class Clock(ABC):
    """Source of the current time (naive UTC)."""

    @abstractmethod
    def now(self) -> datetime:
        """Current instant as a naive ``datetime`` in UTC."""

    def today(self) -> date:
        """Current UTC calendar date (derived from :meth:`now` so both always agree)."""
        return self.now().date()


class SystemClock(Clock):
    """The real wall clock."""

    def now(self) -> datetime:
        # ``datetime.utcnow()`` is deprecated; build the naive UTC value from an aware one.
        return datetime.now(UTC).replace(tzinfo=None)

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock(Clock):
    """A clock that stands still until told to move; for tests and replaying past events.

    Accepts a naive datetime (taken as UTC), an aware datetime (converted to naive UTC) or a
    date (midnight UTC).
    """

    def __init__(self, at: datetime | date) -> None:
        self._now = _to_naive_utc(at)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime | date) -> None:
        """Jump to another instant (forwards or backwards)."""
        self._now = _to_naive_utc(at)

    def advance(self, **timedelta_kwargs: float) -> datetime:
        """Move forward by ``timedelta(**timedelta_kwargs)``; returns the new current time.

        Example: ``clock.advance(days=1, hours=2)``.
        """
        self._now += timedelta(**timedelta_kwargs)
        return self._now

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()!r})"


def _to_naive_utc(at: datetime | date) -> datetime:
    if isinstance(at, datetime):
        if at.tzinfo is not None:
            return at.astimezone(UTC).replace(tzinfo=None)
        return at
    if isinstance(at, date):
        return datetime(at.year, at.month, at.day)
    raise TypeError(f"expected a date or datetime, got {type(at).__name__}")


def local_zone() -> tzinfo:
    """The hospital's time zone for showing stored (naive UTC) times: TESSERA_TIMEZONE, default Asia/Shanghai."""
    name = os.environ.get("TESSERA_TIMEZONE", "Asia/Shanghai")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=8), "CST")


def utc_to_local(value: datetime) -> datetime:
    """A stored naive-UTC (or aware) timestamp as a naive local one, for pages and exports."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(local_zone()).replace(tzinfo=None)
