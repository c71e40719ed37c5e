"""Checking a bulk load's rows in several processes (runtime/his/bulk_import.py).

Why: checking one row (JSON schema, computed fields, the entity's validation expressions, sealing its
sensitive values) is pure Python work of about 100 µs, and a 100,000-patient archive spends most of its
load there while the database waits. Threads would not help (the work holds the GIL). Forked workers
inherit the loaded application (registry, compiled validators, the field keys in memory) without pickling
any of it; each checks one contiguous slice of the rows and sends back only its results, in order, so the
report is the same as a check in one process. The calling process checks the first slice itself.

A forked child must never use the parent's database connections: the check touches no database, and
multiprocessing's fork workers leave with ``os._exit``, so no inherited connection is closed by a child.
Where fork is not available (Windows, macOS' default) the rows are checked in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

PARALLEL_MIN_ROWS = 20_000
"""Below this many rows a second process costs more (fork, returning results) than it saves."""
MAX_WORKERS = 4

Row = TypeVar("Row")
Result = TypeVar("Result")

_job: tuple[Callable[..., Any], list[Any], Any] | None = None
"""The check, the rows and the shared argument, set before the workers fork (they inherit it)."""


def worker_count(rows: int, requested: int | None = None) -> int:
    """How many processes check ``rows`` rows: ``requested`` if given, else one per available core (at most
    MAX_WORKERS) for a large file on a system that can fork, else one."""
    if requested is not None:
        return max(1, requested)
    if rows < PARALLEL_MIN_ROWS or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_WORKERS, cores))


def check_in_parallel(
    check: Callable[[list[Row], Any], Result],
    rows: list[Row],
    shared: Any,
    *,
    workers: int | None = None,
    after_fork: Callable[[], None] | None = None,
) -> list[Result]:
    """``check(slice, shared)`` of contiguous slices of ``rows``, computed in ``worker_count`` processes; the
    results in the order of the slices (one slice when the rows are checked here). ``after_fork`` runs first
    in each worker (e.g. to let go of inherited database connections). An exception in a worker is raised
    here."""
    count = min(worker_count(len(rows), workers), len(rows))
    if count <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [check(rows, shared)]
    global _job
    size = -(-len(rows) // count)
    bounds = [(start, min(start + size, len(rows))) for start in range(0, len(rows), size)]
    _job = (check, rows, shared)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=len(bounds) - 1, mp_context=context, initializer=after_fork) as pool:
            futures = [pool.submit(_check_slice, start, end) for start, end in bounds[1:]]
            start, end = bounds[0]
            results = [check(rows[start:end], shared)]
            results += [future.result() for future in futures]
    finally:
        _job = None
    return results


def _check_slice(start: int, end: int) -> Any:
    """In a forked worker: check the inherited rows[start:end]."""
    if _job is None:  # only reachable if a worker was not forked from check_in_parallel
        raise RuntimeError("no bulk check to run in this worker")
    check, rows, shared = _job
    return check(rows[start:end], shared)
