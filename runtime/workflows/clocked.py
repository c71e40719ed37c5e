"""Let SpiffWorkflow's timers read Tessera's clock, so tests (FixedClock) and the host agree on "now".

SpiffWorkflow 3.2.0 compares timer due times with ``datetime.now(timezone.utc)`` inside
``SpiffWorkflow.bpmn.specs.event_definitions.timer``; there is no hook for a clock. We replace that
module's ``datetime`` name with a subclass whose ``now()`` reads the clock bound by the host for the
current engine call (a context variable), and the real time when none is bound. Everything else
(``fromisoformat``, ``combine``, arithmetic) is the ordinary ``datetime``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module

from runtime.clock import Clock

_CLOCK: ContextVar[Clock | None] = ContextVar("tessera_workflow_clock", default=None)


class _ClockedDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        clock = _CLOCK.get()
        if clock is None:
            return datetime.now(tz)
        naive = clock.now()  # naive UTC by convention (runtime.clock)
        aware = naive.replace(tzinfo=UTC)
        return aware.astimezone(tz) if tz is not None else naive


_timer_module.datetime = _ClockedDatetime


@contextmanager
def engine_clock(clock: Clock) -> Iterator[None]:
    """Bind ``clock`` as "now" for the timers evaluated inside this block."""
    token = _CLOCK.set(clock)
    try:
        yield
    finally:
        _CLOCK.reset(token)
