"""Consumer spans of a batch: one per trace context carried by its messages, not one per message."""

from __future__ import annotations

from types import SimpleNamespace

from claystream_common.events import RecordIngested, new_event
from claystream_common.kafka.tracing import start_process_spans

TRACE_A = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACE_B = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def message(offset: int, traceparent: bytes | None) -> SimpleNamespace:
    headers = [("event-type", b"record.ingested")] + ([("traceparent", traceparent)] if traceparent else [])
    return SimpleNamespace(topic="records", partition=0, offset=offset, headers=headers)


def events(count: int) -> list:
    return [new_event("record.ingested", RecordIngested(record_id=f"r{i}", fields={"text": "x"}), dataset="d")
            for i in range(count)]


def test_a_batch_from_one_request_gets_one_process_span() -> None:
    spans = start_process_spans([message(i, TRACE_A) for i in range(500)], events(500), group="g")
    assert len(spans) == 1


def test_each_trace_context_of_a_batch_gets_its_own_process_span() -> None:
    messages = [message(0, TRACE_A), message(1, TRACE_B), message(2, TRACE_A), message(3, None), message(4, None)]
    spans = start_process_spans(messages, events(5), group="g")
    assert len(spans) == 3  # A, B, and the messages without a context
