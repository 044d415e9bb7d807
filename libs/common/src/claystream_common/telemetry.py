"""OpenTelemetry set-up and W3C trace-context propagation through Kafka headers.

Nothing is configured at import time.  ``setup_telemetry`` installs a tracer provider
once per process (OTLP over HTTP when an endpoint is configured; an extra span
processor can be passed, e.g. an in-memory exporter in tests).

Spans are recorded only while something receives them (an exporter or a processor).  Without one
(the embedded default has no collector), every span is a non-recording one that still carries a
trace id, so ``traceparent`` keeps flowing through requests, Kafka headers, envelopes and log
lines.  Recording spans nobody reads cost ~20 % of a submit's latency (docs/PERFORMANCE.md,
section 5).  Once an exporter is set, spans follow the usual parent-based rule (a remote parent
that says "not sampled" is not recorded), so a deployment exports from every service or none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult

log = logging.getLogger(__name__)

_installed_provider: TracerProvider | None = None
_instrumented: set[str] = set()


class RecordWhileExported(Sampler):
    """Parent-based, always-on sampling once ``receiving`` says spans go somewhere; until then none."""

    def __init__(self) -> None:
        self.receiving = False
        self._sampled = ParentBased(ALWAYS_ON)

    def should_sample(  # type: ignore[no-untyped-def]
        self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None
    ) -> SamplingResult:
        if self.receiving:
            return self._sampled.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        parent = trace.get_current_span(parent_context).get_span_context()
        return SamplingResult(Decision.DROP, None, parent.trace_state if parent.is_valid else None)

    def get_description(self) -> str:
        return "RecordWhileExported"


_sampler: RecordWhileExported | None = None


def setup_telemetry(
    service_name: str,
    *,
    otlp_endpoint: str | None = None,
    extra_processors: Sequence[SpanProcessor] = (),
) -> TracerProvider:
    """Install (once) a tracer provider; later calls add processors to the same one."""
    global _installed_provider, _sampler
    provider = _installed_provider
    if provider is None:
        _sampler = RecordWhileExported()
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}), sampler=_sampler)
        if otlp_endpoint:
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                endpoint = otlp_endpoint.rstrip("/")
                if not endpoint.endswith("/v1/traces"):
                    endpoint += "/v1/traces"
                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
                _sampler.receiving = True
            except ImportError:  # pragma: no cover - exporter is an optional extra
                log.warning("OTLP exporter not installed; traces stay in-process")
        trace.set_tracer_provider(provider)
        _installed_provider = provider
        _instrument_clients()
    for processor in extra_processors:
        provider.add_span_processor(processor)
        if _sampler is not None:
            _sampler.receiving = True
    return provider


def flush_telemetry(timeout_millis: int = 5000) -> bool:
    """Export the spans still queued in the batch processors, at a service's shutdown.

    The SDK flushes at interpreter exit, but a service stopped by SIGTERM never gets there: uvicorn raises the
    caught signal again once its graceful shutdown is done, and the process ends by it without running exit
    hooks.  Flushing (not shutting down: tests start many apps on the one process-wide provider) in the
    lifespan keeps the last seconds of every trace across deploys and restarts."""
    provider = _installed_provider
    return True if provider is None else bool(provider.force_flush(timeout_millis))


def _instrument_clients() -> None:
    """Auto-instrument PyMongo and redis-py where the instrumentations are installed."""
    for name, module, cls in (
        ("pymongo", "opentelemetry.instrumentation.pymongo", "PymongoInstrumentor"),
        ("redis", "opentelemetry.instrumentation.redis", "RedisInstrumentor"),
    ):
        if name in _instrumented:
            continue
        try:
            instrumentor = getattr(__import__(module, fromlist=[cls]), cls)
            instrumentor().instrument()
            _instrumented.add(name)
        except Exception as error:  # pragma: no cover - optional
            log.debug("instrumentation %s unavailable: %s", name, error)


def instrument_fastapi(app: Any) -> None:
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError:  # pragma: no cover - optional
        return
    # one server span per request, without a child span per ASGI receive/send message: three more spans
    # a request that no SRE reads (docs/PERFORMANCE.md, section 5)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics,static", exclude_spans=["receive", "send"])


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject_headers(headers: list[tuple[str, bytes]] | None = None) -> list[tuple[str, bytes]]:
    """Append the current W3C trace context to Kafka headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    out = list(headers or [])
    for key, value in carrier.items():
        out.append((key, value.encode()))
    return out


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def extract_context(headers: Iterable[tuple[str, bytes]] | None, traceparent: str | None = None) -> otel_context.Context:
    """Context from Kafka headers (or an envelope's traceparent as a fallback)."""
    carrier: dict[str, str] = {}
    for key, value in headers or ():
        try:
            carrier[key] = value.decode() if isinstance(value, bytes | bytearray) else str(value)
        except UnicodeDecodeError:
            continue
    if "traceparent" not in carrier and traceparent:
        carrier["traceparent"] = traceparent
    return propagate.extract(carrier)


def context_from_traceparent(traceparent: str | None) -> otel_context.Context:
    return propagate.extract({"traceparent": traceparent} if traceparent else {})


def publish_parent(traceparent: str | None, links: Sequence[str] = ()) -> tuple[otel_context.Context | None, list[trace.Link]]:
    """The parent a ``publish`` span should have (None: the current context) and the links it carries.

    The event's own ``traceparent`` wins: whoever made the event chose its trace (a record's trace for what
    happens to that record, the request's trace for an outbox relay publishing later from a background task).
    When a span of another trace is current, that span becomes a link, as does every traceparent in ``links``.
    Except when the event's trace is not sampled and the current one is (a record sent while nothing was
    exported): then the current span stays the parent and the event's trace is the link, so that nothing that
    was traced before goes dark.
    """
    current = trace.get_current_span().get_span_context()
    parent: otel_context.Context | None = None
    out: list[trace.Link] = []
    if traceparent:
        chosen = context_from_traceparent(traceparent)
        wanted = trace.get_current_span(chosen).get_span_context()
        if wanted.is_valid and (not current.is_valid or wanted.trace_id != current.trace_id):
            if current.is_valid and current.trace_flags.sampled and not wanted.trace_flags.sampled:
                out.append(trace.Link(wanted))
            else:
                parent = chosen
                if current.is_valid:
                    out.append(trace.Link(current))
    for other in links:
        linked = trace.get_current_span(context_from_traceparent(other)).get_span_context()
        if linked.is_valid:
            out.append(trace.Link(linked))
    return parent, out


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x")
