"""One trace across services, proven with an in-memory span exporter.

ingest, annotate and trainer run in-process in this test's event loop (create_app + lifespan,
httpx.ASGITransport) against the real embedded Kafka / MongoDB / Redis.  Trace context crosses
Kafka in the W3C ``traceparent`` header: every consumer ``<topic> process`` span must be the
child of the producer ``<topic> publish`` span of the message it handles.

1. ingest request → ``records publish`` → annotate ``records process`` (→ the batch store);
2. each record's own trace, from its send: its answer's ``responses publish`` (outbox relay; the answering request
   is a link) → trainer ``responses process`` (→ the training run the last answer starts → ``suggestions publish``,
   which links each pending record's trace → annotate ``suggestions process``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from claystream_common.datasets import record_id_for
from claystream_common.telemetry import setup_telemetry
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from .conftest import eventually, three_services

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WORKSPACE = "traces"
TEXTS = {
    "pos-1": ("a wonderful, moving film with a brilliant cast", "positive"),
    "pos-2": ("brilliant and wonderful, I loved every minute", "positive"),
    "neg-1": ("a dull, boring mess with terrible acting", "negative"),
    "neg-2": ("terrible and boring, I hated every minute", "negative"),
    "pending-1": ("a brilliant, wonderful story", None),
    "pending-2": ("boring and terrible from start to end", None),
}


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    processor = SimpleSpanProcessor(memory)
    setup_telemetry("claystream-e2e", extra_processors=[processor])
    yield memory
    memory.shutdown()  # the processor stays on the process-wide provider but drops spans from now on


class Spans:
    """Finished spans indexed by span id, with the walk up to a trace's root."""

    def __init__(self, spans: tuple[ReadableSpan, ...]) -> None:
        self.all = list(spans)
        self.by_id = {s.context.span_id: s for s in self.all}

    def named(self, name: str, **attributes: Any) -> list[ReadableSpan]:
        return [s for s in self.all if s.name == name
                and all((s.attributes or {}).get(k) == v for k, v in attributes.items())]

    def parent_of(self, span: ReadableSpan) -> ReadableSpan | None:
        return self.by_id.get(span.parent.span_id) if span.parent is not None else None

    def ancestors(self, span: ReadableSpan) -> list[ReadableSpan]:
        out, current = [], self.parent_of(span)
        while current is not None:
            out.append(current)
            current = self.parent_of(current)
        return out

    def describe(self, span: ReadableSpan) -> str:
        chain = [span, *self.ancestors(span)]
        parent = chain[-1].parent
        tail = f" ← (parent {parent.span_id:016x} not exported)" if parent is not None else " (root)"
        return " ← ".join(f"{s.name} [{s.kind.name}]" for s in chain) + tail


def group_of(service: str, db: str) -> str:
    return f"{service}-{db}"


async def test_ingest_request_to_annotate_store_is_one_trace(embedded_stack, unique_name, exporter, tmp_path):
    db, dataset = unique_name, "traced"
    async with three_services(embedded_stack, db, WORKSPACE, tmp_path / "models") as svc:
        annotate, ingest = svc["annotate"].client, svc["ingest"].client
        await create_dataset(annotate, dataset)
        exporter.clear()
        items = [{"external_id": key, "fields": {"text": text}} for key, (text, _) in TEXTS.items()]
        answer = await ingest.post(f"/api/v1/datasets/{dataset}/records:bulk", json={"items": items})
        assert answer.status_code == 202, answer.text
        await wait_stored(annotate, dataset, len(items))

        spans = Spans(exporter.get_finished_spans())
        process = spans.named("records process", **{"messaging.consumer.group.name": group_of("annotate", db)})
        assert process, f"annotate handled the records but made no 'records process' span: {names(spans)}"
        request = [s for s in spans.all if s.kind is SpanKind.SERVER and "records:bulk" in s.name]
        assert len(request) == 1, f"one ingest server span expected, got {[s.name for s in request]}"
        trace_id = request[0].context.trace_id
        mine = [s for s in process if s.context.trace_id == trace_id]
        assert mine, ("the annotate consumer spans are not in the ingest request's trace: "
                      + "; ".join(spans.describe(s) for s in process[:2]))
        for span in mine:
            publish = spans.parent_of(span)
            assert publish is not None and publish.name == "records publish" and publish.kind is SpanKind.PRODUCER, \
                spans.describe(span)
            assert request[0] in spans.ancestors(publish), spans.describe(span)
            assert span.attributes["messaging.destination.name"] == "records"
        store = [s for s in spans.named("records process batch") if s.parent and s.parent.span_id in
                 {m.context.span_id for m in mine}]
        assert store, "the batch store span (annotate's upsert) is not under the consumer span"


async def test_each_record_is_one_trace_from_its_send_through_its_answer_to_its_suggestion(embedded_stack, unique_name,
                                                                                          exporter, tmp_path):
    """Every record is sent in a request of its own, so each has its own trace.  What happens to a record later
    continues that trace: its answer's ``responses publish`` (the answering request is a link) and the trainer
    handling it, and so the training run the last answer starts.  A pending record's suggestion is published in
    that run's trace and links the record's trace (a send's trace is shared by every record of its request: one
    span pair per pending record per retrain inside it would grow it without bound)."""
    # a dataset name of its own: the topics outlive a test, and the same records of the test above (same ids)
    # would reach this test's trainer first, with their own traces
    db, dataset = unique_name, "followed"
    async with three_services(embedded_stack, db, WORKSPACE, tmp_path / "models") as svc:
        annotate, ingest, trainer = svc["annotate"].client, svc["ingest"].client, svc["trainer"].client
        await create_dataset(annotate, dataset, trainer={"refresh_every": 4, "min_per_label": 2, "finetune_every": 1000})
        record_trace: dict[str, int] = {}
        for key, (text, _) in TEXTS.items():
            exporter.clear()
            sent = await ingest.post(f"/api/v1/datasets/{dataset}/records:bulk",
                                     json={"items": [{"external_id": key, "fields": {"text": text}}]})
            assert sent.status_code == 202, sent.text
            [request] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER and "records:bulk" in s.name]
            record_trace[record_id_for(WORKSPACE, dataset, key)] = request.context.trace_id
        assert len(set(record_trace.values())) == len(TEXTS)
        await wait_stored(annotate, dataset, len(TEXTS))

        async def embedded() -> bool:
            status = (await trainer.get(f"/api/v1/models/{dataset}/status")).json()
            return status.get("embedded_records", 0) >= len(TEXTS)

        await eventually(embedded, timeout_s=30, what="the trainer's embedding cache")
        # the records' arrival pokes a threshold check: let it end first, so that the training run this test
        # follows is the one the answers start
        await svc["trainer"].app.state.deps.scheduler.wait_idle()
        exporter.clear()
        answered = []
        for key, (_, label) in TEXTS.items():
            if label is None:
                continue
            record_id = record_id_for(WORKSPACE, dataset, key)
            answered.append(record_id)
            answer = await annotate.put(
                f"/api/v1/workspaces/{WORKSPACE}/datasets/{dataset}/records/{record_id}/response",
                json={"status": "submitted", "values": {"sentiment": label}})
            assert answer.status_code == 200, answer.text
        pending = [r for r in record_trace if r not in answered]
        group = group_of("annotate", db)

        async def suggestions_consumed() -> bool:
            spans = Spans(exporter.get_finished_spans())
            stored = spans.named("suggestions process", **{"messaging.consumer.group.name": group})
            keys = {(spans.parent_of(s).attributes or {}).get("messaging.kafka.message.key") for s in stored if spans.parent_of(s)}
            return keys >= set(pending)

        await eventually(suggestions_consumed, timeout_s=60, what="annotate storing every pending record's suggestion")
        spans = Spans(exporter.get_finished_spans())
        by_span_id = {s.context.span_id: s for s in spans.all}
        runs = set()
        for record_id in pending:
            [publish] = spans.named("suggestions publish", **{"messaging.kafka.message.key": record_id})
            assert record_trace[record_id] in {link.context.trace_id for link in publish.links}, \
                f"the suggestion does not link its record's trace: {publish.links}"
            stored = [s for s in spans.named("suggestions process", **{"messaging.consumer.group.name": group})
                      if spans.parent_of(s) is publish]
            assert stored, f"annotate's storing of {record_id}'s suggestion is not under its publish"
            run = next((s for s in spans.ancestors(publish) if s.name == "trainer publish suggestions"), None)
            assert run is not None, spans.describe(publish)
            runs.add(run.context.span_id)
            chain = [s.name for s in spans.ancestors(run)]
            for own_span in ("trainer training run", "trainer threshold check", "responses process"):
                assert own_span in chain, spans.describe(run)
            assert run.context.trace_id in {record_trace[r] for r in answered}, "the run is in an answered record's trace"
        assert len(runs) == 1, "one training run suggested for both pending records"
        for record_id in answered:
            publishes = spans.named("responses publish", **{"messaging.kafka.message.key": record_id})
            submitted = [p for p in publishes if p.attributes["claystream.event.type"] == "response.submitted"]
            assert len(submitted) == 1 and submitted[0].context.trace_id == record_trace[record_id], \
                [spans.describe(p) for p in publishes]
            requests = [by_span_id.get(link.context.span_id) for link in submitted[0].links]
            assert any(r is not None and r.kind is SpanKind.SERVER and r.name.startswith("PUT ") for r in requests), \
                f"the answer's publish does not link the request that answered: {submitted[0].links}"
            handled = [s for s in spans.named("responses process", **{"messaging.consumer.group.name": group_of("trainer", db)})
                       if spans.parent_of(s) is submitted[0]]
            assert handled, f"the trainer's handling of {record_id}'s answer is not in the record's trace"


async def create_dataset(annotate: Any, dataset: str, trainer: dict[str, Any] | None = None) -> None:
    body = {"name": dataset, "fields": [{"name": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "labels": ["positive", "negative"]}],
            "trainer": trainer or {}}
    answer = await annotate.post(f"/api/v1/workspaces/{WORKSPACE}/datasets", json=body)
    assert answer.status_code == 201, answer.text


async def wait_stored(annotate: Any, dataset: str, count: int) -> None:
    async def stored() -> bool:
        answer = await annotate.get(f"/api/v1/workspaces/{WORKSPACE}/datasets/{dataset}/records", params={"limit": 50})
        return answer.status_code == 200 and len(answer.json()["items"]) >= count

    await eventually(stored, timeout_s=30, what=f"{count} records stored in annotate")


def names(spans: Spans) -> list[str]:
    return sorted({s.name for s in spans.all})[:40]
