"""Periodic jobs: which slot is due now, so that every worker defers the same (name, slot) key exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter

EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Periodic:
    name: str
    seconds: int | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.cron is None):
            raise ValueError(f"periodic job {self.name!r}: give exactly one of seconds= or cron=")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"periodic job {self.name!r}: seconds must be positive, got {self.seconds}")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"periodic job {self.name!r}: {self.cron!r} is not a cron expression")

    def slot(self, now: datetime) -> datetime:
        """The latest scheduled instant at or before ``now`` (naive UTC); missed older slots are not replayed."""
        if self.seconds is not None:
            elapsed = int((now - EPOCH).total_seconds())
            return EPOCH + timedelta(seconds=elapsed - elapsed % self.seconds)
        return croniter(self.cron, now + timedelta(microseconds=1)).get_prev(datetime)

    def key(self, slot: datetime) -> str:
        return f"every:{self.name}:{slot.isoformat()}"
