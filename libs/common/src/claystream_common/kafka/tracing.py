"""Consumer-side spans: one per message or per trace context of a batch (child of the producer's trace),
one per batch."""

from __future__ import annotations

import functools
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind

from claystream_common.events import Envelope
from claystream_common.telemetry import extract_context

_TRACER_NAME = "claystream.kafka"


@functools.cache
def _tracer() -> trace.Tracer:
    """Asked once (a proxy until ``setup_telemetry`` installs the provider, then delegating to it)."""
    return trace.get_tracer(_TRACER_NAME)


def start_process_span(message: Any, event: Envelope[Any] | None, *, group: str, event_id: str = "") -> Span:
    """A CONSUMER span continuing the trace carried by the message headers (or the envelope)."""
    topic = message.topic
    parent = extract_context(message.headers, event.traceparent if event else None)
    return _tracer().start_span(
        f"{topic} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(message.partition),
            "messaging.kafka.offset": message.offset,
            "messaging.message.id": event_id or (str(event.event_id) if event else ""),
            "messaging.consumer.group.name": group,
            "claystream.event.type": event.type if event else "",
        },
    )


def _trace_key(message: Any, event: Envelope[Any] | None) -> tuple[Any, ...]:
    """What decides a message's parent context: its trace headers (or the envelope's traceparent)."""
    carried = tuple(value for key, value in (message.headers or ()) if key in ("traceparent", "tracestate"))
    return carried or (event.traceparent if event else None,)


def start_process_spans(messages: list[Any], events: list[Envelope[Any]], *, group: str) -> list[Span]:
    """One CONSUMER span per distinct trace context in a batch (not one per message).

    A bulk producer stamps one ``traceparent`` on all the messages of a request, so a batch of 1,000
    usually carries one or a few contexts: every trace still gets its ``<topic> process`` child, at a
    fraction of the cost of 1,000 spans.  Each span names its first offset and how many messages it covers.
    """
    firsts: dict[tuple[Any, ...], int] = {}
    counts: dict[tuple[Any, ...], int] = {}
    for position, (message, event) in enumerate(zip(messages, events, strict=True)):
        key = _trace_key(message, event)
        firsts.setdefault(key, position)
        counts[key] = counts.get(key, 0) + 1
    spans = []
    for key, position in firsts.items():
        span = start_process_span(messages[position], events[position], group=group,
                                  event_id=str(events[position].event_id))
        span.set_attribute("messaging.batch.message_count", counts[key])
        spans.append(span)
    return spans


def start_batch_span(topic: str, spans: list[Span], *, group: str, message_count: int | None = None) -> Any:
    """The span around one batch-handler call, linked to every message's span.

    It is a child of the first message's span, so that message's trace shows the write.
    """
    return _tracer().start_as_current_span(
        f"{topic} process batch",
        context=trace.set_span_in_context(spans[0]),
        kind=SpanKind.CONSUMER,
        links=[Link(span.get_span_context()) for span in spans],
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.batch.message_count": len(spans) if message_count is None else message_count,
            "messaging.consumer.group.name": group,
        },
    )
