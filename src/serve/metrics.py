"""Prometheus metrics of the service, and the ASGI middleware that counts and times every request.

Labels use the route template (``/v1/persons/{person_id}``), never the raw path, so person ids never
become label values (no personal data in metrics, bounded label cardinality).
"""
from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Request latency from ~1 ms (health) to tens of seconds (a large enrollment on CPU).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
STAGES = ("decode", "queue", "embed", "search")
# No `*_created` timestamp series: they double the exposition and no dashboard of ours reads them.
disable_created_metrics()


class ServiceMetrics:
    """The service's own registry (not the process-global one, so tests and several apps do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("facerec_http_requests", "HTTP requests answered, by route and status",
                                ["method", "endpoint", "status"], registry=self.registry)
        self.errors = Counter("facerec_http_errors", "HTTP answers with status >= 400, by route and status",
                              ["method", "endpoint", "status"], registry=self.registry)
        self.latency = Histogram("facerec_http_request_duration_seconds", "Request latency, by route",
                                 ["method", "endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("facerec_identify_batch_size", "Identify queries embedded and searched together",
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.stage = Histogram("facerec_identify_stage_seconds", "Identify time per stage (decode, queue, embed, "
                               "search)", ["stage"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.gallery_rows = Gauge("facerec_gallery_rows", "Rows in the gallery at the last write or readiness check",
                                  registry=self.registry)

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        for stage in STAGES:
            if f"{stage}_ms" in timings_ms:
                self.stage.labels(stage).observe(timings_ms[f"{stage}_ms"] / 1e3)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The template of the route the request's path belongs to (any method), else ``unmatched``."""
    for route in routes:
        match, _ = route.matches(scope)
        if match != Match.NONE:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


class MetricsMiddleware:
    """Outermost ASGI layer: sees every answer, including 401/413 from the inner layers and 500s.

    The route is looked up here rather than read from the router, because 401 and 413 are answered before
    routing."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), 500
        endpoint, method = route_template(self.routes, scope), scope.get("method", "")

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            labels = (method, endpoint, str(status))
            self.metrics.requests.labels(*labels).inc()
            if status >= 400:
                self.metrics.errors.labels(*labels).inc()
            self.metrics.latency.labels(method, endpoint).observe(time.perf_counter() - began)
