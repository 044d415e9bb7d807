"""Prometheus metrics shared by every service (one process-wide registry)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

HTTP_REQUESTS = Counter(
    "claystream_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "claystream_http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("claystream_events_published_total", "Events published", ["service", "topic"])
EVENTS_HANDLED = Counter(
    "claystream_events_handled_total", "Events handled by the consumer runner", ["service", "topic", "outcome"]
)
HANDLER_DURATION = Histogram(
    "claystream_handler_duration_seconds",
    "Consumer handler duration (per call; batches count once)",
    ["service", "topic"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
)
HANDLER_RETRIES = Counter("claystream_handler_retries_total", "Handler retries", ["service", "topic"])
DLQ_PUBLISHED = Counter("claystream_dlq_published_total", "Messages sent to a DLQ", ["service", "topic"])
DUPLICATES_ABSORBED = Counter(
    "claystream_duplicates_absorbed_total", "Redelivered events skipped by the idempotency fence", ["service", "topic"]
)
READY = Gauge("claystream_ready", "1 when the last /readyz found Kafka, MongoDB and Redis answering", ["service"])
CONSUMER_LAG = Gauge(
    "claystream_consumer_lag", "Messages behind the partition's end", ["service", "topic", "partition"]
)


def route_template(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def metrics_middleware(service: str) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = route_template(request)
            if route not in ("/metrics", "/healthz", "/readyz"):
                HTTP_REQUESTS.labels(service, request.method, route, str(status)).inc()
                HTTP_DURATION.labels(service, request.method, route).observe(time.perf_counter() - started)

    return middleware


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
