"""Issue 17 findings 3 and 5 against the real MongoDB and Redis: a redelivered record batch repairs
the queue; arrival-order pages never skip records tied on ``seq`` at a page boundary."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from annotate_testing import BASE, Annotate
from claystream_annotate.consumers.handlers import on_records_ingested
from claystream_common.events import RecordIngested, new_event

URL = f"{BASE}/default/datasets/reviews"


class QueueDyingOnAdd:
    """The real queue, except that adding fails (Redis timeout, or a kill right after the MongoDB write)."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    async def add(self, dataset_id: str, entries: Any, *, only_new: bool = True) -> None:
        raise ConnectionError("redis went away")


async def test_a_redelivered_batch_queues_every_pending_record(annotate: Annotate) -> None:
    dataset = await annotate.dataset()
    events = [
        new_event("record.ingested", RecordIngested(record_id=uuid.uuid4().hex, external_id=f"x{i}", fields={"text": f"t{i}"}),
                  dataset="reviews", workspace="default")
        for i in range(5)
    ]
    deps = annotate.deps
    try:
        await on_records_ingested(events, records=deps.records, datasets=deps.datasets, queue=QueueDyingOnAdd(deps.queue), counters=deps.counters)
    except ConnectionError:
        pass
    assert await deps.queue.size(dataset["id"]) == 0, "stored in MongoDB, never queued"
    await on_records_ingested(events, records=deps.records, datasets=deps.datasets, queue=deps.queue, counters=deps.counters)  # the redelivery
    assert await deps.queue.size(dataset["id"]) == 5
    annotator = await annotate.member("n1")
    served = set()
    for _ in range(5):
        record = (await annotator.get(f"{URL}/queue/next")).json()
        served.add(record["id"])
        answer = await annotator.put(f"{URL}/records/{record['id']}/response", json={"values": {"sentiment": "pos"}})
        assert answer.status_code == 200, answer.text
    assert served == {e.data.record_id for e in events}


async def test_an_insert_stores_its_arrival_as_seq_and_dates_only_updates(annotate: Annotate) -> None:
    """seq is the arrival time in microseconds; an insert stores no datetimes (nx-27017 pays a quarter
    of its CPU per record for two), and a re-sent record gets ``updated_at`` with its changed fields."""
    await annotate.dataset()
    record_id = uuid.uuid4().hex
    deps = annotate.deps

    def event(text: str) -> Any:
        return new_event("record.ingested", RecordIngested(record_id=record_id, external_id="a1", fields={"text": text}),
                         dataset="reviews", workspace="default")

    before = datetime.now(UTC).timestamp() * 1e6
    await on_records_ingested([event("first")], records=deps.records, datasets=deps.datasets, queue=deps.queue, counters=deps.counters)
    after = datetime.now(UTC).timestamp() * 1e6
    stored = await deps.records.get(record_id)
    assert stored is not None and before - 1 <= stored["seq"] <= after + 1
    assert "inserted_at" not in stored and "updated_at" not in stored
    await on_records_ingested([event("second")], records=deps.records, datasets=deps.datasets, queue=deps.queue, counters=deps.counters)
    stored = await deps.records.get(record_id)
    assert stored["fields"] == {"text": "second"} and stored.get("updated_at")  # nx-27017 returns a $set date as text


async def test_a_new_send_replaces_suggestions_and_a_redelivery_leaves_a_model_s_alone(annotate: Annotate) -> None:
    """A record sent again with new suggestions kept the old ones without a word (202, then dropped)."""
    await annotate.dataset()
    record_id, deps = uuid.uuid4().hex, annotate.deps

    def event(value: str) -> Any:
        data = RecordIngested(record_id=record_id, external_id="a1", fields={"text": f"about {value}"},
                              suggestions=[{"question": "sentiment", "value": value, "score": 0.6, "agent": "backend"}])
        return new_event("record.ingested", data, dataset="reviews", workspace="default")

    async def ingested(*events: Any) -> dict[str, Any]:
        await on_records_ingested(list(events), records=deps.records, datasets=deps.datasets, queue=deps.queue, counters=deps.counters)
        stored = await deps.records.get(record_id)
        assert stored is not None
        return stored

    first = event("pos")
    assert (await ingested(first))["suggestions"]["sentiment"]["value"] == "pos"
    resent = event("neg")
    stored = await ingested(resent)
    assert stored["suggestions"]["sentiment"]["value"] == "neg" and stored["fields"] == {"text": "about neg"}
    await deps.records.set_suggestions([(record_id, "sentiment", {"value": "pos", "score": 0.99, "agent": "trainer"}, None)])
    stored = await ingested(resent)  # the same send delivered again (at least once): the model's suggestion stays
    assert stored["suggestions"]["sentiment"]["agent"] == "trainer"
    stored = await ingested(first)  # an older send replayed from a dead-letter topic after the newer one: no rollback
    assert stored["fields"] == {"text": "about neg"} and stored["suggestions"]["sentiment"]["agent"] == "trainer"


async def _tied_records(annotate: Annotate, dataset: dict[str, Any], count: int, seqs: list[int]) -> list[str]:
    documents = [
        {"_id": f"r{i:03d}-{uuid.uuid4().hex[:6]}", "dataset_id": dataset["id"], "dataset": "reviews", "workspace": "default",
         "fields": {"text": f"t{i}"}, "metadata": {"genre": "drama"}, "status": "pending", "submitted_by": [], "seq": seqs[i],
         "suggestions": {"sentiment": {"value": "pos", "score": 0.5 if i % 3 else 0.9}} if i % 5 else {}}
        for i in range(count)
    ]  # scores tied in long runs, and some records without one
    await annotate.deps.records.insert_documents(documents)
    return [d["_id"] for d in documents]


async def test_scans_never_skip_ties_at_a_page_boundary(annotate: Annotate) -> None:
    dataset = await annotate.dataset()
    # pages of 4: records 2..9 share one seq (a boundary inside the tie, and a tie longer than a page)
    seqs = [1, 2] + [3] * 8 + [4, 5, 5, 6]
    ids = await _tied_records(annotate, dataset, len(seqs), seqs)
    records = annotate.deps.records
    walked = [d["_id"] async for page in records.scan({"dataset_id": dataset["id"]}, batch_size=4, projection={"_id": 1}) for d in page]
    assert sorted(walked) == sorted(ids) and len(walked) == len(ids), "every record exactly once"
    # export, queue rebuilds and bulk-by-filter all walk ``scan`` (pages of 2,000 / 5,000)
    pending = [d["_id"] async for page in records.scan({"dataset_id": dataset["id"], "status": "pending"}, batch_size=3) for d in page]
    assert sorted(pending) == sorted(ids)


async def test_listing_pages_never_skip_ties(annotate: Annotate) -> None:
    dataset = await annotate.dataset()
    seqs = [1, 2] + [3] * 8 + [4, 5, 5, 6]
    ids = await _tied_records(annotate, dataset, len(seqs), seqs)
    for sort in ("arrival", "-arrival", "score", "-score"):
        for limit in (1, 3, 4):
            seen: list[str] = []
            after = None
            for _ in range(40):
                params = {"limit": limit, "sort": sort, **({"after": after} if after else {})}
                page = (await annotate.owner.get(f"{URL}/records", params=params)).json()
                seen += [r["id"] for r in page["items"]]
                after = page["next_after"]
                if after is None:
                    break
            assert sorted(seen) == sorted(ids) and len(seen) == len(ids), (sort, limit)
