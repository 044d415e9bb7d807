from __future__ import annotations

import pytest
from claystream_annotate.consumers.handlers import on_model_event, on_records_ingested, on_suggestions_created
from claystream_common.errors import PermanentError
from claystream_common.events import RecordIngested, RecordSuggestion, SuggestionCreated, TrainingProgress, new_event
from fakes import FakeModelEvents

from conftest import World


def ingested(record_id: str, dataset: str = "reviews") -> object:
    data = RecordIngested(record_id=record_id, external_id=record_id, fields={"text": f"text {record_id}"},
                          suggestions=[RecordSuggestion(question="sentiment", value="pos", score=0.8)])
    return new_event("record.ingested", data, dataset=dataset, workspace="ws")


async def seed(world: World) -> str:
    await world.datasets.insert({"_id": "ds1", "workspace": "ws", "name": "reviews", "fields": [{"name": "text"}],
                                 "questions": [{"name": "sentiment", "type": "label", "labels": ["pos", "neg"]}]})
    return "ds1"


async def test_records_upserted_idempotently_queued_and_counted(world: World) -> None:
    await seed(world)
    batch = [ingested("a"), ingested("b"), ingested("a")]
    await on_records_ingested(batch, records=world.records, datasets=world.datasets, queue=world.queue, counters=world.counters)
    await on_records_ingested(batch, records=world.records, datasets=world.datasets, queue=world.queue, counters=world.counters)
    assert sorted(world.records.documents) == ["a", "b"]
    assert world.records.documents["a"]["suggestions"]["sentiment"]["score"] == 0.8
    assert sorted(world.queue.queues["ds1"]) == ["a", "b"]
    assert world.counters.values["ds1"]["records"] == 2


async def test_unknown_dataset_goes_to_the_dlq(world: World) -> None:
    await seed(world)
    with pytest.raises(PermanentError, match="unknown dataset"):
        await on_records_ingested([ingested("a", dataset="nope")], records=world.records, datasets=world.datasets, queue=world.queue, counters=world.counters)


async def test_suggestions_attach_and_reprioritise(world: World) -> None:
    await seed(world)
    await on_records_ingested([ingested("a"), ingested("b")], records=world.records, datasets=world.datasets, queue=world.queue, counters=world.counters)
    suggestion = SuggestionCreated(record_id="b", question="sentiment", label="neg", score=0.55, model_version="v3", priority=0.9)
    await on_suggestions_created([new_event("suggestion.created", suggestion, dataset="reviews", workspace="ws")],
                                 records=world.records, datasets=world.datasets, queue=world.queue)
    stored = world.records.documents["b"]["suggestions"]["sentiment"]
    assert (stored["value"], stored["score"], stored["model_version"], stored["agent"]) == ("neg", 0.55, "v3", "claystream-trainer")
    queue = world.queue.queues["ds1"]
    assert min(queue, key=queue.__getitem__) == "b"


async def test_a_suggestion_the_question_refuses_is_poison_and_one_for_a_removed_question_is_dropped(world: World) -> None:
    """Trainer suggestions were stored unchecked: a value no answer may have reached the page."""
    await seed(world)
    await on_records_ingested([ingested("a")], records=world.records, datasets=world.datasets, queue=world.queue, counters=world.counters)
    bad = SuggestionCreated(record_id="a", question="sentiment", label="meh", score=0.5, model_version="v3")
    with pytest.raises(PermanentError, match=r"record a: suggestion for sentiment: .*meh"):
        await on_suggestions_created([new_event("suggestion.created", bad, dataset="reviews", workspace="ws")],
                                     records=world.records, datasets=world.datasets, queue=world.queue)
    gone = SuggestionCreated(record_id="a", question="removed", label="x", score=0.5, model_version="v3")
    await on_suggestions_created([new_event("suggestion.created", gone, dataset="reviews", workspace="ws")],
                                 records=world.records, datasets=world.datasets, queue=world.queue)
    assert set(world.records.documents["a"]["suggestions"]) == {"sentiment"}
    assert world.records.documents["a"]["suggestions"]["sentiment"]["value"] == "pos"


async def test_model_events_are_kept_once(world: World) -> None:
    await seed(world)
    store = FakeModelEvents()
    event = new_event("training.progress", TrainingProgress(run_id="r", kind="refresh", step=1, total_steps=4), dataset="reviews", workspace="ws")
    await on_model_event(event, model_events=store, datasets=world.datasets)
    await on_model_event(event, model_events=store, datasets=world.datasets)
    assert len(store.events) == 1 and next(iter(store.events.values()))["data"]["step"] == 1


async def test_model_events_of_an_unknown_dataset_are_poison(world: World) -> None:
    store = FakeModelEvents()
    event = new_event("training.progress", TrainingProgress(run_id="r", kind="refresh", step=1, total_steps=4), dataset="nope", workspace="ws")
    with pytest.raises(PermanentError, match="unknown dataset ws/nope"):
        await on_model_event(event, model_events=store, datasets=world.datasets)
    assert store.events == {}


class TimingOutQueue:
    """The queue port failing the way Redis does on a timeout, after MongoDB stored the batch."""

    async def add(self, dataset_id: str, entries: object, *, only_new: bool = True) -> None:
        raise TimeoutError("redis timed out")


async def test_a_redelivered_batch_queues_what_the_first_delivery_left_out(world: World) -> None:
    """Finding 3 (issue 17): the first delivery stored the records and died before queueing them;
    the redelivery sees only duplicates and must still queue every pending one (not answered ones)."""
    await seed(world)
    batch = [ingested("a"), ingested("b"), ingested("c")]
    with pytest.raises(TimeoutError):
        await on_records_ingested(batch, records=world.records, datasets=world.datasets, queue=TimingOutQueue(), counters=world.counters)
    assert sorted(world.records.documents) == ["a", "b", "c"] and "ds1" not in world.queue.queues
    world.records.documents["c"]["status"] = "completed"  # answered meanwhile: must stay out
    world.records.documents["b"]["priority"] = 0.9  # prioritised by the trainer meanwhile
    await on_records_ingested(batch, records=world.records, datasets=world.datasets, queue=world.queue, counters=world.counters)
    queue = world.queue.queues["ds1"]
    assert sorted(queue) == ["a", "b"]
    assert queue["b"] < queue["a"], "a re-sent record keeps its priority in the queue"


async def test_a_redelivery_keeps_the_queue_scores_already_there(world: World) -> None:
    await seed(world)
    batch = [ingested("a")]
    await on_records_ingested(batch, records=world.records, datasets=world.datasets, queue=world.queue, counters=world.counters)
    world.queue.queues["ds1"]["a"] = -5.0  # rescored by a suggestion
    await on_records_ingested(batch, records=world.records, datasets=world.datasets, queue=world.queue, counters=world.counters)
    assert world.queue.queues["ds1"] == {"a": -5.0}
    assert world.counters.values["ds1"]["records"] == 1


async def test_a_record_keeps_the_trace_of_the_send_that_created_it(world: World) -> None:
    await seed(world)
    first = ingested("a").model_copy(update={"traceparent": f"00-{1:032x}-{1:016x}-01"})
    again = ingested("a").model_copy(update={"traceparent": f"00-{2:032x}-{2:016x}-01"})
    for event in (first, again):
        await on_records_ingested([event], records=world.records, datasets=world.datasets, queue=world.queue, counters=world.counters)
    assert await world.records.traces(["a", "missing"]) == {"a": first.traceparent}
