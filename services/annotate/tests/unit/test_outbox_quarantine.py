"""Issue 17 finding 2: one bad outbox entry never stops the relay; it goes to the quarantine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from claystream_annotate.services.errors import Forbidden, Invalid
from claystream_annotate.services.outbox import OUTBOX_QUARANTINED, OutboxRelay
from claystream_annotate.services.quarantine import quarantined_entries
from claystream_annotate.services.responses import save_response
from claystream_annotate.services.validation import MAX_VALUES_BYTES, validate_values
from claystream_common.events import Envelope
from claystream_common.kafka.producer import PublishError
from claystream_common.ports import RecordingPublisher

from conftest import World, admin, annotator, make_spec


def relay_for(world: World, spec: Any, publisher: Any, **extra: Any) -> OutboxRelay:
    async def load_spec(dataset_id: str) -> Any:
        return spec if dataset_id == spec.id else None

    return OutboxRelay(responses=world.responses, records=world.records, queue=world.queue, counters=world.counters,
                       publisher=publisher, load_spec=load_spec, quarantine=world.quarantine, batch=100, **extra)


async def submit(world: World, spec: Any, record_id: str, values: dict[str, Any] | None = None) -> None:
    world.records.add(record_id, spec.id)
    await save_response(actor=annotator(), spec=spec, record_id=record_id, status="submitted",
                        values=values or {"sentiment": "pos"}, **world.ports())


def quarantined(reason: str) -> float:
    return OUTBOX_QUARANTINED.labels("annotate", reason)._value.get()


async def test_a_poison_entry_does_not_block_the_ones_after_it(world: World) -> None:
    spec = make_spec()
    for record_id in ("a0", "b1", "c2", "d3"):
        await submit(world, spec, record_id)
    world.responses.documents["a0:u1"].outbox.insert(0, '{"type": "response.submitted", "data": {"trunc')  # undecodable, read first
    big = world.responses.documents["b1:u1"].outbox[0].replace('"pos"', '"' + "x" * 20_000 + '"', 1)
    world.responses.documents["b1:u1"].outbox = [big]  # over the relay's limit below
    before = quarantined("undecodable"), quarantined("oversize")
    publisher = RecordingPublisher()
    relay = relay_for(world, spec, publisher, max_event_bytes=10_000)
    assert await relay.drain_once() == 4
    published = {e.data.record_id for e in publisher.of_type("response.submitted")}
    assert published == {"a0", "c2", "d3"}, "the good entries (a0's too) went out, the bad ones did not"
    assert {e.reason for e in world.quarantine.entries.values()} == {"undecodable", "oversize"}
    oversize = next(e for e in world.quarantine.entries.values() if e.reason == "oversize")
    assert oversize.record_id == "b1" and oversize.event_type == "response.submitted" and oversize.raw == big
    assert "limit is 10000" in oversize.detail
    assert (quarantined("undecodable"), quarantined("oversize")) == (before[0] + 1, before[1] + 1)
    assert all(not d.outbox for d in world.responses.documents.values())
    assert world.records.documents["b1"]["status"] == "completed", "the stored answer still completes its record"
    assert await relay.drain_once() == 0


class RefusingPublisher(RecordingPublisher):
    """A broker that refuses one record's events as too large (its limit is below ours)."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    async def publish_many(self, events: Sequence[Envelope[Any]], *, keys: Sequence[str | None] | None = None, topic: str | None = None) -> None:
        if any(getattr(e.data, "record_id", None) == self.refused and e.type.startswith("response.") for e in events):
            try:
                raise MessageSizeTooLargeError("the message is 1200000 bytes")
            except MessageSizeTooLargeError as error:
                raise PublishError(f"Kafka did not acknowledge the publish: {error!r}") from error
        await super().publish_many(events, keys=keys, topic=topic)


async def test_an_event_the_broker_refuses_for_good_is_set_aside(world: World) -> None:
    spec = make_spec()
    for record_id in ("a", "b", "c"):
        await submit(world, spec, record_id)
    publisher = RefusingPublisher("b")
    assert await relay_for(world, spec, publisher).drain_once() == 3
    assert sorted(e.data.record_id for e in publisher.of_type("response.submitted")) == ["a", "c"]
    assert [(e.record_id, e.reason) for e in world.quarantine.entries.values()] == [("b", "rejected")]
    assert all(not d.outbox for d in world.responses.documents.values())


async def test_a_broker_outage_quarantines_nothing(world: World) -> None:
    spec = make_spec()
    await submit(world, spec, "a")
    broken = RecordingPublisher()
    broken.fail_with = PublishError("broker down")
    with pytest.raises(PublishError):
        await relay_for(world, spec, broken).drain_once()
    assert world.quarantine.entries == {} and world.responses.documents["a:u1"].outbox


async def test_admins_see_their_workspaces_quarantine_only(world: World) -> None:
    spec = make_spec()
    await submit(world, spec, "a")
    world.responses.documents["a:u1"].outbox = ["not json"]
    await relay_for(world, spec, RecordingPublisher()).drain_once()
    seen = await quarantined_entries(actor=admin(), workspace="ws", quarantine=world.quarantine)
    assert seen["total"] == 1 and seen["items"][0]["preview"] == "not json" and seen["items"][0]["reason"] == "undecodable"
    with pytest.raises(Forbidden):
        await quarantined_entries(actor=annotator(), workspace="ws", quarantine=world.quarantine)


def test_answers_too_large_for_one_event_are_refused_naming_the_limit() -> None:
    spec = make_spec()
    text = "x" * 10_000  # each text answer is within its own limit ...
    many = spec.model_copy(update={"questions": [*spec.questions, *[q.model_copy(update={"name": f"note{i}"}) for q in spec.questions if q.type == "text" for i in range(30)]]})
    with pytest.raises(Invalid) as refused:  # ... but 30 of them do not fit one event
        validate_values(many, {"sentiment": "pos", **{f"note{i}": text for i in range(30)}}, "submitted")
    assert refused.value.field == "values" and str(MAX_VALUES_BYTES) in str(refused.value)
