"""Pausing the automation that writes trigger, while a snapshot loads.

Demo data (runtime/demo.py, a demo file with ``"snapshot": true``) holds records together with what the
pack's automation already made of them: an admission with its visit and discharge-call tasks, a call with its
opinion, a discharge with its template follow-ups. Loading such records must not run that automation again:
record rules would duplicate the tasks and text the patients, follow-up plans would start for stays that ended
long ago. Date rules still watch the loaded records (an open task still escalates on time) and scores are
still recomputed (derived values stay consistent).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_PAUSED: contextvars.ContextVar[bool] = contextvars.ContextVar("tessera_write_automation_paused", default=False)


@contextmanager
def write_automation_paused() -> Iterator[None]:
    """Writes inside this block trigger no record rules and start no follow-up plans."""
    token = _PAUSED.set(True)
    try:
        yield
    finally:
        _PAUSED.reset(token)


def write_automation_is_paused() -> bool:
    return _PAUSED.get()
