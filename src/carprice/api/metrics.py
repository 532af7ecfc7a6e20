"""The API's Prometheus metrics, served at ``GET /metrics`` (text exposition format).

Per request: counts and latencies by method, route template and status (templates and a
fixed "unmatched", never raw paths: the label sets stay bounded), cars priced by model
source, and the predicted prices. Read at scrape time, costing requests nothing: the
served model (one labelled series, the current one only), whether it is ready or a newer
one was refused, and the prediction log's queue and counters.

One registry per app (tests build several apps in one process); uvicorn runs a single
worker per container, so no multiprocess mode is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"  # the route label of a path no route serves (404s, scanners)
# any other method (a client may send any token) is labelled "other": bounded label sets
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: the API answers one car in milliseconds; a long list takes up to seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
                   0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Dirhams: the used-car market the model prices, from old city cars to luxury ones.
PRICE_BUCKETS = (20_000, 30_000, 40_000, 50_000, 60_000, 75_000, 100_000, 125_000, 150_000,
                 200_000, 250_000, 300_000, 400_000, 500_000, 750_000, 1_000_000, 1_500_000,
                 2_000_000)


class StateCollector:
    """What the API serves and the prediction log's state, read when Prometheus scrapes."""

    def __init__(self, snapshot: Callable[[], Any], log_stats: Callable[[], dict]):
        self._snapshot, self._log_stats = snapshot, log_stats

    def describe(self) -> Iterable[Metric]:
        return []  # no checks at registration: collect() would call peek() then

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        info = GaugeMetricFamily(
            "carprice_api_model", "The served model: 1 for its (name, version, source); "
            "source none means nothing is served", labels=["model_name", "version", "source"])
        if snap is None:  # still loading
            info.add_metric(["", "", "none"], 1)
        else:
            res = snap.resolution
            info.add_metric([res.model_name or "", str(res.version or ""), str(res.source)], 1)
        yield info
        yield GaugeMetricFamily("carprice_api_model_ready", "1 when a model is loaded",
                                value=int(snap is not None and snap.ready))
        yield GaugeMetricFamily("carprice_api_model_refused",
                                "1 while a newer model is refused (the last good one serves)",
                                value=int(snap is not None and snap.refused is not None))
        yield from log_metrics(self._log_stats())


def log_metrics(stats: dict) -> Iterator[Metric]:
    """The prediction log's families from PredictionLog.stats() (only `enabled` when off)."""
    enabled = bool(stats.get("enabled"))
    yield GaugeMetricFamily("carprice_predlog_enabled",
                            "1 when predictions are logged to Postgres", value=int(enabled))
    if not enabled:
        return
    yield GaugeMetricFamily("carprice_predlog_up",
                            "0 while Postgres cannot be written to (rows wait in memory)",
                            value=int(stats["state"] == "ok"))
    yield GaugeMetricFamily("carprice_predlog_queued", "Rows waiting to be written",
                            value=stats["queued"])
    yield CounterMetricFamily("carprice_predlog_written", "Rows written to Postgres",
                              value=stats["written"])
    yield CounterMetricFamily("carprice_predlog_dropped",
                              "Rows dropped: the queue was full, or Postgres refused them",
                              value=stats["dropped"])


class ApiMetrics:
    """The app's registry and its per-request metrics."""

    def __init__(self, snapshot: Callable[[], Any], log_stats: Callable[[], dict]):
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # memory, CPU, open files of the API
        self.registry.register(StateCollector(snapshot, log_stats))
        self.requests = Counter("carprice_api_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("carprice_api_request_duration_seconds",
                                 "Time to answer an HTTP request, body included",
                                 ["method", "route", "status"], buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.predictions = Counter("carprice_api_predictions", "Cars priced",
                                   ["source"], registry=self.registry)
        self.prices = Histogram("carprice_api_predicted_price_dh",
                                "Predicted prices (DH)", buckets=PRICE_BUCKETS,
                                registry=self.registry)
        # (method, route, status) -> the two children: skips labels()'s lock per request
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(*key), self.latency.labels(*key))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_predictions(self, source: str, outputs: list[dict]) -> None:
        self.predictions.labels(source).inc(len(outputs))
        for out in outputs:
            self.prices.observe(out["price_dh"])

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Plain ASGI (no BaseHTTPMiddleware overhead), outermost: it times every response,
    the body limit's 413s included, and answers /metrics itself, before the body limit."""

    def __init__(self, app, metrics: ApiMetrics, routes: Callable[[], Iterable[str]]):
        self.app, self.metrics = app, metrics
        self._routes = routes
        self._known: frozenset[str] | None = None  # paths of the app's routes, read once

    def route_of(self, scope: dict) -> str:
        """The template of the route that answered; a known path (refused before routing,
        e.g. a 413); else UNMATCHED."""
        route = scope.get("route")
        if route is not None and getattr(route, "path", None):
            return route.path
        if self._known is None:
            self._known = frozenset(self._routes()) | {METRICS_PATH}
        return scope["path"] if scope["path"] in self._known else UNMATCHED

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def tracked_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if scope["path"] == METRICS_PATH:
                await self._serve(scope, tracked_send)
            else:
                await self.app(scope, receive, tracked_send)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.observe_request(method, self.route_of(scope), status,
                                         time.perf_counter() - start)

    async def _serve(self, scope, send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            body, headers = b"", [(b"allow", b"GET, HEAD")]
            status = 405
        else:
            body, status = self.metrics.exposition(), 200
            headers = [(b"content-type", CONTENT_TYPE_LATEST.encode())]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body",
                    "body": b"" if scope["method"] == "HEAD" else body})
