from __future__ import annotations

import asyncio
import uuid

import pytest
from claystream_annotate.services.bulk import bulk_apply
from claystream_annotate.services.errors import Forbidden, Invalid, NotFound
from claystream_annotate.services.outbox import OutboxRelay, completed_event_id
from claystream_annotate.services.queue import next_record
from claystream_annotate.services.records import RecordQuery
from claystream_annotate.services.responses import save_response
from claystream_common.kafka.producer import PublishError
from claystream_common.ports import RecordingPublisher

from conftest import World, admin, annotator, make_spec


def relay_for(world: World, spec, publisher: RecordingPublisher, **options: float) -> OutboxRelay:  # type: ignore[no-untyped-def]
    async def load_spec(dataset_id: str):  # type: ignore[no-untyped-def]
        return spec if dataset_id == spec.id else None

    return OutboxRelay(responses=world.responses, records=world.records, queue=world.queue, counters=world.counters,
                       publisher=publisher, load_spec=load_spec, quarantine=world.quarantine, batch=100, **options)


class PassCountingPublisher(RecordingPublisher):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def publish_many(self, events, *, keys=None, topic=None) -> None:  # type: ignore[no-untyped-def]
        self.calls += 1
        await super().publish_many(events, keys=keys, topic=topic)


async def test_submit_then_edit_then_discard_emits_one_event_each(world: World) -> None:
    spec = make_spec()
    world.records.add("r1", spec.id)
    actor = annotator()
    first = await save_response(actor=actor, spec=spec, record_id="r1", status="submitted", values={"sentiment": "pos"}, relay=world.relay, **world.ports())
    same = await save_response(actor=actor, spec=spec, record_id="r1", status="submitted", values={"sentiment": "pos"}, **world.ports())
    edited = await save_response(actor=actor, spec=spec, record_id="r1", status="submitted", values={"sentiment": "neg"}, **world.ports())
    await save_response(actor=actor, spec=spec, record_id="r1", status="discarded", values={}, **world.ports())
    assert (first.version, same.version, edited.version) == (1, 1, 2)
    assert world.relay.woken == 1
    publisher = RecordingPublisher()
    await relay_for(world, spec, publisher).drain_once()
    types = [event.type for event, _ in publisher.published]
    assert types == ["response.submitted", "response.updated", "response.discarded"], "retracted: not completed"
    assert world.records.documents["r1"]["status"] == "pending"
    assert "r1" in world.queue.queues[spec.id], "a retracted submission puts the record back in the queue"
    updated = publisher.of_type("response.updated")[0]
    assert updated.data.previous_values == {"sentiment": "pos"} and updated.data.values == {"sentiment": "neg"}
    assert all(key == "r1" for _, key in publisher.published)
    assert world.responses.documents["r1:u1"].outbox == []


async def test_record_outside_the_dataset_or_workspace_is_not_found(world: World) -> None:
    spec = make_spec()
    world.records.add("other", "another-dataset")
    with pytest.raises(NotFound):
        await save_response(actor=annotator(), spec=spec, record_id="other", status="submitted", values={"sentiment": "pos"}, **world.ports())
    with pytest.raises(NotFound):
        await save_response(actor=annotator(workspaces=("elsewhere",)), spec=spec, record_id="other", status="submitted", values={"sentiment": "pos"}, **world.ports())


async def test_completed_only_after_min_submitted_users(world: World) -> None:
    spec = make_spec(min_submitted=2)
    world.records.add("r1", spec.id)
    publisher = RecordingPublisher()
    relay = relay_for(world, spec, publisher)
    await save_response(actor=annotator("u1"), spec=spec, record_id="r1", status="submitted", values={"sentiment": "pos"}, **world.ports())
    await relay.drain_once()
    assert publisher.of_type("record.completed") == []
    assert world.records.documents["r1"]["status"] == "pending"
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    answer_trace = SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with trace.use_span(NonRecordingSpan(answer_trace)):  # the request of the answer that completes the record
        await save_response(actor=annotator("u2"), spec=spec, record_id="r1", status="submitted", values={"sentiment": "neg"}, **world.ports())
    await relay.drain_once()
    completed = publisher.of_type("record.completed")
    assert len(completed) == 1 and completed[0].data.submitted_count == 2
    # the completion continues that answer's trace (it was a new root trace of its own, per completion)
    assert completed[0].traceparent == publisher.of_type("response.submitted")[-1].traceparent
    assert completed[0].traceparent is not None and f"{0xABC:032x}" in completed[0].traceparent
    assert completed[0].event_id == completed_event_id("r1")
    assert world.records.documents["r1"]["status"] == "completed"
    assert world.counters.values[spec.id]["completed"] == 1


async def test_an_answer_and_the_completion_continue_the_record_s_own_trace_and_link_the_request(world: World) -> None:
    """A record's trace ended where annotate stored it: its answer, the trainer's handling of it and the completion
    each started traces of their own, so an SRE could not follow one record through the loop."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    spec = make_spec()
    record_trace = f"00-{0x5EED:032x}-{0x1:016x}-01"
    world.records.add("r1", spec.id, trace=record_trace)  # as the records consumer stores a send's traceparent
    world.records.add("r2", spec.id)  # sent before records kept a trace
    publisher = RecordingPublisher()
    request = SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with trace.use_span(NonRecordingSpan(request)):
        for record_id in ("r1", "r2"):
            await save_response(actor=annotator(), spec=spec, record_id=record_id, status="submitted",
                                values={"sentiment": "pos"}, **world.ports())
    await relay_for(world, spec, publisher).drain_once()
    by_record = {(e.type, e.data.record_id): e for e, _ in publisher.published}
    request_tp = by_record[("response.submitted", "r2")].traceparent
    assert request_tp is not None and f"{0xABC:032x}" in request_tp  # no trace of its own: the request's, as before
    for kind in ("response.submitted", "record.completed"):
        event = by_record[(kind, "r1")]
        assert event.traceparent == record_trace and event.links == [request_tp], (kind, event)


async def test_failed_publish_keeps_the_outbox_and_a_new_relay_redrives_with_the_same_ids(world: World) -> None:
    spec = make_spec()
    world.records.add("r1", spec.id)
    await save_response(actor=annotator(), spec=spec, record_id="r1", status="submitted", values={"sentiment": "pos"}, **world.ports())
    broken = RecordingPublisher()
    broken.fail_with = PublishError("broker down")
    with pytest.raises(PublishError):
        await relay_for(world, spec, broken).drain_once()
    assert world.responses.documents["r1:u1"].outbox, "nothing may be lost when the publish fails"
    stored_id = uuid.UUID(world.responses.documents["r1:u1"].outbox[0].split('"event_id":"')[1].split('"')[0])
    healthy = RecordingPublisher()
    assert await relay_for(world, spec, healthy).drain_once() == 1
    submitted = healthy.of_type("response.submitted")
    assert [e.event_id for e in submitted] == [stored_id]
    assert await relay_for(world, spec, healthy).drain_once() == 0


async def test_submits_within_the_linger_share_one_relay_pass(world: World) -> None:
    spec = make_spec()
    world.records.add("r1", spec.id)
    world.records.add("r2", spec.id)
    publisher = PassCountingPublisher()
    relay = relay_for(world, spec, publisher, linger_s=0.4, poll_s=30)
    await relay.start()
    try:
        await asyncio.sleep(0.05)  # the start-up pass has found nothing
        for record_id in ("r1", "r2"):
            await save_response(actor=annotator(), spec=spec, record_id=record_id, status="submitted", values={"sentiment": "pos"},
                                relay=relay, **world.ports())
            await asyncio.sleep(0.05)
        for _ in range(100):
            if len(publisher.of_type("response.submitted")) == 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await relay.stop()
    assert [event.data.record_id for event in publisher.of_type("response.submitted")] == ["r1", "r2"]
    assert publisher.calls == 1, "the second submit came within the linger: one pass publishes both"


async def test_bulk_by_filter_labels_matching_records_once(world: World) -> None:
    spec = make_spec()
    for i in range(5):
        world.records.add(f"r{i}", spec.id, metadata={"genre": "drama" if i % 2 == 0 else "comedy"})
    actor = annotator()
    query = RecordQuery(metadata={"genre": ["drama"]})
    matched, changed = await bulk_apply(actor=actor, spec=spec, record_ids=None, query=query, status="submitted", values={"sentiment": "neg"}, dry_run=True, **world.ports())
    assert (matched, changed) == (3, 0) and not world.responses.documents
    matched, changed = await bulk_apply(actor=actor, spec=spec, record_ids=None, query=query, status="submitted", values={"sentiment": "neg"}, dry_run=False, **world.ports())
    assert (matched, changed) == (3, 3)
    again = await bulk_apply(actor=actor, spec=spec, record_ids=["r0", "r2", "missing"], query=None, status="submitted", values={"sentiment": "neg"}, dry_run=False, **world.ports())
    assert again == (2, 0)  # "missing" is no record of the dataset: not matched
    assert await next_record(actor=actor, spec=spec, **world.ports()) is not None
    with pytest.raises(Invalid):
        await bulk_apply(actor=actor, spec=spec, record_ids=None, query=None, status="submitted", values={"sentiment": "neg"}, dry_run=False, **world.ports())


async def test_annotators_cannot_read_others_responses(world: World) -> None:
    from claystream_annotate.services.responses import get_response

    spec = make_spec()
    world.records.add("r1", spec.id)
    await save_response(actor=annotator("u1"), spec=spec, record_id="r1", status="draft", values={}, **world.ports())
    with pytest.raises(Forbidden):
        await get_response(actor=annotator("u2"), spec=spec, record_id="r1", user_id="u1", responses=world.responses)
    found = await get_response(actor=admin(), spec=spec, record_id="r1", user_id="u1", responses=world.responses)
    assert found.status == "draft"
