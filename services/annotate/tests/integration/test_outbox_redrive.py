"""A crash between the MongoDB write and the publish: nothing is lost, the same event ids come out."""

from __future__ import annotations

import uuid

import pytest
from annotate_testing import BASE, running_annotate
from claystream_common.kafka.producer import PublishError
from claystream_common.ports import RecordingPublisher

URL = f"{BASE}/default/datasets/reviews"


async def test_unsent_events_are_redriven_after_a_restart(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    db = f"t{uuid.uuid4().hex[:12]}"
    broken = RecordingPublisher()
    broken.fail_with = PublishError("broker unreachable")
    async with running_annotate(embedded_stack, db, publisher=broken) as first:
        dataset = await first.dataset()
        ids = await first.records(dataset, ["a", "b"])
        for record in ids:
            saved = await first.owner.put(f"{URL}/records/{record}/response", json={"values": {"sentiment": "pos"}})
            assert saved.status_code == 200, "the label is stored even though Kafka is down"
        pending = await first.deps.responses.with_pending_outbox(10)
        stored_ids = sorted(raw.split('"event_id":"')[1].split('"')[0] for doc in pending for raw in doc.outbox)
        assert len(stored_ids) == 2 and broken.published == []
        with pytest.raises(PublishError):
            await first.deps.relay.drain_once()
        assert first.deps.relay.backlog == 2
        metrics = (await first.owner.get("/metrics")).text  # process-wide: other apps in this process share it
        assert 'claystream_outbox_backlog{service="annotate"}' in metrics
    healthy = RecordingPublisher()
    async with running_annotate(embedded_stack, db, publisher=healthy) as second:  # the restart: a new relay
        for _ in range(100):
            if await second.deps.responses.pending_count() == 0:
                break
            await second.deps.relay.drain_once()
        published = sorted(str(e.event_id) for e in healthy.of_type("response.submitted"))
        assert published == stored_ids, "the same event ids, nothing missing"
        assert len(healthy.of_type("record.completed")) == 2
        assert await second.deps.responses.pending_count() == 0


async def test_two_replicas_draining_at_once_publish_each_event_once(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    """Every replica's relay read the same pending documents: two passes at once published the same entries
    (630 messages for 400 events with two replicas).  The pass is a lease across replicas now."""
    import asyncio

    db = f"t{uuid.uuid4().hex[:12]}"
    one, other = RecordingPublisher(), RecordingPublisher()
    async with running_annotate(embedded_stack, db, publisher=one) as first, \
            running_annotate(embedded_stack, db, publisher=other) as second:
        dataset = await first.dataset()
        ids = await first.records(dataset, [f"text {i}" for i in range(30)])
        for record in ids:
            saved = await first.owner.put(f"{URL}/records/{record}/response", json={"values": {"sentiment": "pos"}})
            assert saved.status_code == 200
        for _ in range(200):
            await asyncio.gather(first.deps.relay.drain_once(), second.deps.relay.drain_once())
            if await first.deps.responses.pending_count() == 0:
                break
        events = [str(e.event_id) for e, _ in one.published + other.published]
        submitted = [e for e, _ in one.published + other.published if e.type == "response.submitted"]
        assert len(submitted) == len(ids) and len(events) == len(set(events)), (len(events), len(set(events)))
