"""Consumer-side spans: one per message (child of the producer's trace), one per batch."""

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


def start_batch_span(topic: str, spans: list[Span], *, group: str) -> Any:
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
            "messaging.batch.message_count": len(spans),
            "messaging.consumer.group.name": group,
        },
    )
