"""The consumer runner against the real embedded Kafka and MongoDB: commit after success, retries,
dead-lettering with cause headers, the idempotency fence, infrastructure errors, batch isolation.

Every test has its own topics (``<unique>-records`` + ``.dlq``) and consumer group.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from claystream_common.errors import PermanentError, TransientError
from claystream_common.events import Envelope, encode_event
from claystream_common.idempotency import MongoFence
from claystream_common.kafka.consumer import Subscription
from claystream_common.kafka.dlq import header_map
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.slow

DLQ_CAUSE_HEADERS = ("x-error", "x-original-topic", "x-original-partition", "x-original-offset", "x-attempts")


async def test_offset_is_committed_only_after_the_handler_succeeded(kit) -> None:
    release = asyncio.Event()
    started: list[str] = []
    done: list[str] = []

    async def handle(event: Envelope[Any]) -> None:
        started.append(event.data.record_id)
        await release.wait()
        done.append(event.data.record_id)

    runner = kit.runner([Subscription("record.ingested", handler=handle)])
    await runner.start()
    await kit.publish([kit.event("a")])
    await kit.wait_for(lambda: started == ["a"], "the handler to start")
    await asyncio.sleep(0.5)  # give a premature commit every chance to happen
    assert await kit.committed() == {}, "offset committed while the handler was still running"

    release.set()
    await kit.wait_for(lambda: done == ["a"], "the handler to finish")
    for _ in range(50):
        if await kit.committed() == {0: 1}:
            break
        await asyncio.sleep(0.1)
    assert await kit.committed() == {0: 1}


async def test_a_handler_failing_twice_is_retried_and_its_event_processed_once(kit) -> None:
    calls: Counter[str] = Counter()
    stored: list[str] = []

    async def handle(event: Envelope[Any]) -> None:
        key = event.data.record_id
        calls[key] += 1
        if key == "flaky" and calls[key] <= 2:
            raise RuntimeError("flaky dependency")
        stored.append(key)

    runner = kit.runner([Subscription("record.ingested", handler=handle)], max_attempts=5)
    await runner.start()
    await kit.publish([kit.event("flaky"), kit.event("after")])
    await kit.wait_for(lambda: stored == ["flaky", "after"], "both events to be handled in order")

    assert calls == {"flaky": 3, "after": 1}
    assert runner.stats.retries == 2
    assert runner.stats.dead_lettered == 0
    await kit.wait_for(lambda: runner.stats.handled == 2, "stats")
    assert await kit.read(kit.dlq, 1, timeout_s=1.0) == []


async def test_poison_messages_are_dead_lettered_with_their_cause_and_the_next_one_is_processed(kit) -> None:
    handled: list[str] = []

    async def handle(event: Envelope[Any]) -> None:
        handled.append(event.data.record_id)

    good = kit.event("good")
    wrong_major = encode_event(kit.event("v2")).replace(b'"schema_version":"1.0"', b'"schema_version":"2.0"')
    schema_invalid = encode_event(kit.event("invalid")).replace(b'"fields":', b'"no_fields":')
    assert b'"schema_version":"2.0"' in wrong_major and b'"no_fields":' in schema_invalid

    runner = kit.runner([Subscription("record.ingested", handler=handle)])
    await runner.start()
    await kit.send_raw(b"\xff\xfe{not json")  # offset 0
    await kit.send_raw(wrong_major)  # offset 1
    await kit.send_raw(schema_invalid)  # offset 2
    await kit.publish([good])  # offset 3
    await kit.wait_for(lambda: handled == ["good"], "the message after the poison ones")

    parked = await kit.read(kit.dlq, 3)
    assert len(parked) == 3
    headers = [header_map(m.headers) for m in parked]
    for offset, header in enumerate(headers):
        for name in DLQ_CAUSE_HEADERS:
            assert name in header, f"{name} missing from {header}"
        assert header["x-original-topic"] == kit.topic
        assert header["x-original-partition"] == "0"
        assert header["x-original-offset"] == str(offset)
        assert header["x-attempts"] == "1"
    assert "undecodable" in headers[0]["x-error"]
    assert "schema_version" in headers[1]["x-error"] and "2.0" in headers[1]["x-error"]
    assert "fields" in headers[2]["x-error"]
    assert [m.value for m in parked] == [b"\xff\xfe{not json", wrong_major, schema_invalid]  # parked as they came
    await kit.wait_for(lambda: runner.stats.dead_lettered == 3, "stats")
    assert runner.stats.handled == 1


async def test_handler_errors_are_dead_lettered_after_max_attempts_and_permanent_errors_at_once(kit) -> None:
    calls: Counter[str] = Counter()
    handled: list[str] = []

    async def handle(event: Envelope[Any]) -> None:
        key = event.data.record_id
        calls[key] += 1
        if key == "always-fails":
            raise ValueError("handler bug")
        if key == "unknown-dataset":
            raise PermanentError("dataset does not exist")
        handled.append(key)

    runner = kit.runner([Subscription("record.ingested", handler=handle)], max_attempts=3)
    await runner.start()
    await kit.publish([kit.event("always-fails"), kit.event("unknown-dataset"), kit.event("fine")])
    await kit.wait_for(lambda: handled == ["fine"], "the last event")

    parked = {header_map(m.headers)["x-original-offset"]: header_map(m.headers) for m in await kit.read(kit.dlq, 2)}
    assert parked["0"]["x-attempts"] == "3" and "ValueError: handler bug" in parked["0"]["x-error"]
    assert parked["1"]["x-attempts"] == "1" and "PermanentError" in parked["1"]["x-error"]
    assert calls == {"always-fails": 3, "unknown-dataset": 1, "fine": 1}
    for _ in range(50):
        if await kit.committed() == {0: 3}:
            break
        await asyncio.sleep(0.1)
    assert await kit.committed() == {0: 3}


async def test_infrastructure_errors_are_retried_past_max_attempts_and_never_dead_lettered(kit) -> None:
    calls: Counter[str] = Counter()
    handled: list[str] = []

    async def handle(event: Envelope[Any]) -> None:
        key = event.data.record_id
        calls[key] += 1
        if calls[key] <= 4:
            raise TransientError("mongo is restarting")
        handled.append(key)

    runner = kit.runner([Subscription("record.ingested", handler=handle)], max_attempts=2)
    await runner.start()
    await kit.publish([kit.event("outage"), kit.event("next")])
    await kit.wait_for(lambda: handled == ["outage", "next"], "both events after the outage")
    assert calls == {"outage": 5, "next": 5}
    assert runner.stats.dead_lettered == 0
    assert await kit.read(kit.dlq, 1, timeout_s=1.0) == []


async def test_a_long_outage_rewinds_the_partition_and_the_event_is_handled_when_it_ends(kit) -> None:
    outage = {"on": True}
    handled: list[str] = []

    async def handle(event: Envelope[Any]) -> None:
        if outage["on"]:
            raise TransientError("redis unreachable")
        handled.append(event.data.record_id)

    runner = kit.runner([Subscription("record.ingested", handler=handle)], infrastructure_retry_s=0.3, max_attempts=1)
    await runner.start()
    await kit.publish([kit.event("waits")])
    await kit.wait_for(lambda: runner.stats.rewinds >= 2, "the partition to be rewound twice")
    assert not runner.healthy
    assert await kit.committed() == {}
    outage["on"] = False
    await kit.wait_for(lambda: handled == ["waits"], "the event after the outage")
    await kit.wait_for(lambda: runner.healthy, "the runner to report healthy again")
    assert runner.stats.dead_lettered == 0


async def test_a_redelivered_event_changes_nothing(kit, embedded_stack, unique_name) -> None:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(embedded_stack.ports.mongo_url)
    db = mongo[unique_name]
    fence = MongoFence(db["processed_events"], kit.group)
    await fence.ensure_indexes()

    async def count_it(event: Envelope[Any]) -> None:  # deliberately NOT idempotent: only the fence protects it
        await db["counters"].update_one({"_id": event.data.record_id}, {"$inc": {"n": 1}}, upsert=True)

    try:
        runner = kit.runner([Subscription("record.ingested", handler=count_it)], fence=fence)
        await runner.start()
        event = kit.event("once")
        await kit.publish([event])
        await kit.wait_for(lambda: runner.stats.handled == 1, "the first delivery")
        await kit.publish([event, kit.event("other")])  # the same event again (same event_id), then another
        await kit.wait_for(lambda: runner.stats.handled == 2 and runner.stats.duplicates == 1, "the redelivery")
        await runner.stop()

        # offsets lost (a fresh group re-reads the whole partition), same fence: nothing changes either
        replay = kit.runner(
            [Subscription("record.ingested", handler=count_it)], fence=fence, group=f"{kit.group}-replay"
        )
        await replay.start()
        await kit.wait_for(lambda: replay.stats.duplicates == 3, "the replayed partition")
        assert replay.stats.handled == 0
        counters = {doc["_id"]: doc["n"] async for doc in db["counters"].find()}
        assert counters == {"once": 1, "other": 1}
    finally:
        await mongo.drop_database(unique_name)
        await mongo.close()


async def test_a_failing_batch_is_isolated_so_only_the_bad_event_is_dead_lettered(kit) -> None:
    stored: list[str] = []
    batch_sizes: list[int] = []

    async def store(events: list[Envelope[Any]]) -> None:
        batch_sizes.append(len(events))
        if any(e.data.fields.get("bad") for e in events):
            raise ValueError("cannot store a record with bad=True")
        stored.extend(e.data.record_id for e in events)

    events = [kit.event(f"r{i}", bad=(i == 4)) for i in range(10)]
    await kit.publish(events)  # all ten before the runner starts: they arrive as one batch
    runner = kit.runner([Subscription("record.ingested", batch_handler=store)], max_attempts=2)
    await runner.start()
    await kit.wait_for(lambda: len(stored) == 9, "the nine good events")

    assert stored == [f"r{i}" for i in range(10) if i != 4]  # order kept
    assert batch_sizes[0] == 10
    parked = await kit.read(kit.dlq, 1)
    assert [header_map(m.headers)["x-original-offset"] for m in parked] == ["4"]
    assert header_map(parked[0].headers)["x-attempts"] == "2"
    for _ in range(50):
        if await kit.committed() == {0: 10}:
            break
        await asyncio.sleep(0.1)
    assert await kit.committed() == {0: 10}
