"""Prometheus metrics at ``/metrics`` (PL-22): requests, latency, database pool, job queue, process.

* ``tessera_http_requests_total{method, route, status}`` and
  ``tessera_http_request_duration_seconds{method, route}`` (a histogram). ``route`` is the route
  *template* (``/api/v1/records/{entity}/{rid}``), never the raw path, so ids and typos cannot
  explode the number of series; requests that match no route share ``<unmatched>``, and files under
  a mounted app share ``<mount prefix>/{path}``.
* ``tessera_http_requests_in_progress`` — a gauge.
* ``tessera_db_pool_size``, ``_checked_out``, ``_checked_in``, ``_overflow`` — read from the
  SQLAlchemy pool at scrape time (SQLite's file databases use a queue pool too; a pool that lacks
  a number simply does not report it).
* ``tessera_job_queue_depth`` — a real gauge evaluated at scrape time from a callable; until the
  job engine exists it reports 0. The job engine provides the callable either by calling
  ``metrics.set_job_queue_depth(fn)`` or by setting ``tessera.job_queue_depth = fn`` on the container.
* process and Python metrics from ``prometheus_client`` (CPU seconds, resident memory, open fds,
  GC) and ``tessera_info{version}``.

Each app has its own ``CollectorRegistry`` (tests build many apps in one process). Values are per
worker process; with several workers, scrape each one (or put them behind separate targets).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime import __version__

if TYPE_CHECKING:
    from fastapi import FastAPI

    from runtime.services import Tessera

log = logging.getLogger("tessera.metrics")

UNMATCHED = "<unmatched>"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, tessera: Tessera):
        self.tessera = tessera
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tessera_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tessera_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "tessera_http_requests_in_progress", "HTTP requests being answered now.", registry=self.registry
        )
        self._queue_depth: Callable[[], float] | None = None
        queue = Gauge("tessera_job_queue_depth", "Background jobs waiting to run.", registry=self.registry)
        queue.set_function(self._job_queue_depth)
        Info("tessera", "Tessera platform.", registry=self.registry).info({"version": __version__})
        self.registry.register(PoolCollector(tessera))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def set_job_queue_depth(self, source: Callable[[], float]) -> None:
        """Called by the job engine with a function returning the number of jobs waiting."""
        self._queue_depth = source

    def _job_queue_depth(self) -> float:
        source = self._queue_depth or getattr(self.tessera, "job_queue_depth", None)
        if source is None:
            return 0.0
        try:
            return float(source())
        except Exception:  # noqa: BLE001 - a scrape must not fail because the queue is unreachable
            log.warning("job queue depth unavailable", exc_info=True)
            return float("nan")

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class PoolCollector(Collector):
    """Database connection pool numbers, read at scrape time."""

    def __init__(self, tessera: Tessera):
        self.tessera = tessera

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.tessera.db.engine.pool
        dialect = self.tessera.db.dialect
        for name, attr, doc in (
            ("tessera_db_pool_size", "size", "Connections the pool keeps open."),
            ("tessera_db_pool_checked_out", "checkedout", "Connections in use by requests or jobs."),
            ("tessera_db_pool_checked_in", "checkedin", "Idle connections in the pool."),
            ("tessera_db_pool_overflow", "overflow", "Connections opened beyond the pool size (negative: room left)."),
        ):
            fn = getattr(pool, attr, None)
            if fn is None:
                continue
            try:
                value = float(fn())
            except Exception:  # noqa: BLE001 - some pools do not track every number
                continue
            family = GaugeMetricFamily(name, doc, labels=["dialect"])
            family.add_metric([dialect], value)
            yield family


def route_label(scope: Scope) -> str:
    """The route template the router matched (set on the shared scope), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if "endpoint" in scope and "root_path" in scope:
        prefix = scope["root_path"][len(scope.get("app_root_path", "")) :]
        if prefix:
            return prefix.rstrip("/") + "/{path}"
    return UNMATCHED


class MetricsMiddleware:
    """Pure ASGI (no per-request task or body buffering): counts and times every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.in_progress.dec()
            try:
                self.metrics.observe(scope["method"], route_label(scope), status, time.perf_counter() - started)
            except Exception:  # noqa: BLE001 - metrics must never break a request
                log.warning("could not record request metrics", exc_info=True)


def install_metrics(app: FastAPI, tessera: Tessera) -> Metrics:
    """Add the middleware (outermost, so it times everything) and the ``/metrics`` route."""
    metrics = Metrics(tessera)
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        body, content_type = request.app.state.metrics.render()
        return Response(body, media_type=content_type)

    return metrics
