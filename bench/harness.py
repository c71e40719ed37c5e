"""Timing helpers and the result table.

Every result compares our code with a bare baseline measured in the same run on the same database,
and `ratio` is always "higher is better": ours_rate / baseline_rate for throughput, baseline_time /
ours_time for latency. A ratio of 1.0 means as fast as the baseline, 0.5 means half as fast.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

clock = time.perf_counter


@dataclass
class Result:
    name: str
    backend: str
    ours: float
    baseline: float
    unit: str  # "rows/s" (higher is better) or "ms" / "us" (lower is better)
    ratio: float  # higher is better, see module docstring
    target: str  # shown in the table, e.g. ">= 0.50x" or "< 25 us"
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)


def throughput_result(
    name: str, backend: str, count: int, ours_s: float, base_s: float, min_ratio: float, **details: Any
) -> Result:
    """`count` operations on each side took ours_s / base_s seconds; ratio = ours rate / baseline rate."""
    ours, base = count / ours_s, count / base_s
    ratio = ours / base
    return Result(name, backend, ours, base, "rows/s", ratio, f">= {min_ratio:.2f}x", ratio >= min_ratio, details)


def latency_result(name: str, backend: str, ours_s: float, base_s: float, min_ratio: float, **details: Any) -> Result:
    """Median latencies in seconds; ratio = baseline time / our time (1.0: as fast as hand-written)."""
    ratio = base_s / ours_s
    return Result(
        name, backend, ours_s * 1e3, base_s * 1e3, "ms", ratio, f">= {min_ratio:.2f}x", ratio >= min_ratio, details
    )


def time_once(fn: Callable[[], Any]) -> float:
    start = clock()
    fn()
    return clock() - start


def interleaved_medians(
    sides: dict[str, Callable[[], Any]], repeats: int, warmup: int = 5
) -> dict[str, dict[str, float]]:
    """Run every side once per repetition, rotating which goes first, so drift (caches, autovacuum,
    CPU frequency) hits all sides equally; per side: median, p10 and p90 in seconds."""
    names = list(sides)
    for _ in range(warmup):
        for name in names:
            sides[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            samples[name].append(time_once(sides[name]))
    return {
        name: {"median": statistics.median(v), "p10": _pct(v, 0.1), "p90": _pct(v, 0.9)} for name, v in samples.items()
    }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# output -------------------------------------------------------------------------------------------
def _fmt(value: float, unit: str) -> str:
    if unit == "rows/s":
        return f"{value:,.0f} rows/s"
    if unit == "ms":
        return f"{value:.3f} ms"
    return f"{value:.2f} {unit}"


def format_table(results: list[Result]) -> str:
    header = ("benchmark", "backend", "ours", "baseline", "ratio", "target", "result")
    rows = [
        (
            r.name,
            r.backend,
            _fmt(r.ours, r.unit),
            _fmt(r.baseline, r.unit),
            f"{r.ratio:.2f}x",
            r.target,
            "pass" if r.passed else "FAIL",
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    out.append("ratio: higher is better (ours rate / baseline rate, or baseline time / our time)")
    return "\n".join(out)


def environment(settings: dict[str, Any]) -> dict[str, Any]:
    import os
    import sqlite3

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "sqlalchemy": sa.__version__,
        "sqlite": sqlite3.sqlite_version,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        **settings,
    }


def write_json(path: Path, results: list[Result], env: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"environment": env, "results": [asdict(r) for r in results]}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
