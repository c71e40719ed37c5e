"""Let SpiffWorkflow's timers read Tessera's clock, so tests (FixedClock) and the host agree on "now".

SpiffWorkflow 3.2.0 compares timer due times with ``datetime.now(timezone.utc)`` inside
``SpiffWorkflow.bpmn.specs.event_definitions.timer``; there is no hook for a clock. We replace that
module's ``datetime`` name with a subclass whose ``now()`` reads the clock bound by the host for the
current engine call (a context variable), and the real time when none is bound. Everything else
(``fromisoformat``, ``combine``, arithmetic) is the ordinary ``datetime``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo
from importlib.metadata import version

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


PINNED = "3.2."
"""The SpiffWorkflow line this patch was written against (pyproject pins 3.2.0); ``verify_patch`` checks it."""


def verify_patch() -> None:
    """Fail loudly (RuntimeError) when the SpiffWorkflow internals this module relies on have changed: another
    version, a timer module that no longer reads ``datetime.now``, or our class no longer in place. Called at
    import and by tests/test_workflows_clock.py (which also checks the behaviour: a timer fires on the clock)."""
    found = version("SpiffWorkflow")
    if not found.startswith(PINNED):
        raise RuntimeError(
            f"runtime/workflows/clocked.py patches SpiffWorkflow {PINNED}x internals, but {found} is installed: "
            "check SpiffWorkflow.bpmn.specs.event_definitions.timer still takes 'now' from datetime.now, then "
            "update PINNED"
        )
    source = inspect.getsource(_timer_module)
    if "datetime.now(" not in source or getattr(_timer_module, "datetime", None) is not _ClockedDatetime:
        raise RuntimeError(
            "SpiffWorkflow's timer module no longer reads the time through its module-level 'datetime': "
            "workflow timers would ignore Tessera's clock"
        )


_timer_module.datetime = _ClockedDatetime
verify_patch()


@contextmanager
def engine_clock(clock: Clock) -> Iterator[None]:
    """Bind ``clock`` as "now" for the timers evaluated inside this block."""
    token = _CLOCK.set(clock)
    try:
        yield
    finally:
        _CLOCK.reset(token)
