"""Prometheus metrics shared by every service (one process-wide registry)."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class HttpMetrics:
    """Counts and times every request by route template (``/metrics`` and the probes left out).

    Plain ASGI, not ``app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs every request
    in a task of its own behind a memory stream, which was 13 % of annotate's CPU per request
    (docs/PERFORMANCE.md, section 5).  The duration runs until the last body byte is handed over."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = route_template(scope)
            if route not in ("/metrics", "/healthz", "/readyz"):
                HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status)).inc()
                HTTP_DURATION.labels(self.service, scope["method"], route).observe(time.perf_counter() - started)


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
