"""Spans are recorded only while something receives them; trace context flows either way."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from claystream_common.telemetry import RecordWhileExported
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags


def provider_with(sampler: RecordWhileExported) -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider(sampler=sampler)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider, memory


def test_without_a_receiver_spans_are_not_recorded_but_carry_a_trace_and_their_children_keep_it() -> None:
    sampler = RecordWhileExported()
    provider, memory = provider_with(sampler)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("request") as parent, tracer.start_as_current_span("store") as child:
        assert not parent.is_recording() and not child.is_recording()
        assert parent.get_span_context().is_valid
        assert child.get_span_context().trace_id == parent.get_span_context().trace_id
    assert memory.get_finished_spans() == ()


def test_a_remote_parent_keeps_its_trace_id_through_an_unrecorded_span() -> None:
    remote = SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    sampler = RecordWhileExported()
    provider, _ = provider_with(sampler)
    with provider.get_tracer("t").start_as_current_span("process", context=trace.set_span_in_context(NonRecordingSpan(remote))) as span:
        assert not span.is_recording()
        assert span.get_span_context().trace_id == 0xABC


def test_once_spans_are_received_they_are_recorded_and_a_not_sampled_remote_parent_is_respected() -> None:
    sampler = RecordWhileExported()
    provider, memory = provider_with(sampler)
    sampler.receiving = True
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("request") as span:
        assert span.is_recording()
    not_sampled = SpanContext(trace_id=0x1, span_id=0x2, is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    with tracer.start_as_current_span("process", context=trace.set_span_in_context(NonRecordingSpan(not_sampled))) as span:
        assert not span.is_recording()
    assert [s.name for s in memory.get_finished_spans()] == ["request"]


def test_setup_telemetry_records_nothing_until_a_processor_is_added_and_still_propagates() -> None:
    script = textwrap.dedent(
        """
        import json
        from opentelemetry import trace
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from claystream_common.telemetry import current_traceparent, setup_telemetry

        setup_telemetry("svc")
        tracer = trace.get_tracer("t")
        with tracer.start_as_current_span("before") as span:
            before = {"recording": span.is_recording(), "traceparent": current_traceparent()}
        memory = InMemorySpanExporter()
        setup_telemetry("svc", extra_processors=[SimpleSpanProcessor(memory)])
        with tracer.start_as_current_span("after") as span:
            after = {"recording": span.is_recording()}
        print(json.dumps({"before": before, "after": after, "exported": [s.name for s in memory.get_finished_spans()]}))
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["before"]["recording"] is False
    assert seen["before"]["traceparent"] and seen["before"]["traceparent"].startswith("00-")
    assert seen["after"]["recording"] is True
    assert seen["exported"] == ["after"]


def test_an_event_s_own_trace_is_the_publish_parent_unless_it_was_not_sampled_and_the_current_one_is() -> None:
    from claystream_common.telemetry import publish_parent
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    def tp(trace_id: int, sampled: bool) -> str:
        return f"00-{trace_id:032x}-{1:016x}-{'01' if sampled else '00'}"

    def parent_trace(parent) -> int | None:  # type: ignore[no-untyped-def]
        return None if parent is None else trace.get_current_span(parent).get_span_context().trace_id

    request = SpanContext(trace_id=0xAAA, span_id=0xBBB, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    parent, links = publish_parent(tp(0x111, True))  # the relay: no current span
    assert parent_trace(parent) == 0x111 and links == []
    with trace.use_span(NonRecordingSpan(request)):
        parent, links = publish_parent(tp(0x111, True), [tp(0x222, True)])
        assert parent_trace(parent) == 0x111 and [link.context.trace_id for link in links] == [0xAAA, 0x222]
        # a record sent while nothing was exported: what is traced now stays traced, the record's trace is a link
        parent, links = publish_parent(tp(0x111, False))
        assert parent is None and [link.context.trace_id for link in links] == [0x111]
        parent, links = publish_parent(tp(0xAAA, True))  # the current trace already: nothing to change
        assert parent is None and links == []
