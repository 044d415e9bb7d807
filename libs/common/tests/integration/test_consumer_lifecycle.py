"""Consumer-runner life cycle against the real embedded Kafka: stop during retries, graceful and
hard (SIGKILL) restarts resume from the committed offset without loss, rebalances lose nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from collections import Counter
from typing import Any

import pytest
from claystream_common.events import Envelope
from claystream_common.idempotency import MongoFence
from claystream_common.kafka.consumer import Subscription
from pymongo import AsyncMongoClient, UpdateOne

pytestmark = pytest.mark.slow


async def test_stop_during_retries_returns_at_once_and_leaves_the_event_for_the_next_start(kit) -> None:
    calls: Counter[str] = Counter()

    async def always_down(event: Envelope[Any]) -> None:
        calls[event.data.record_id] += 1
        raise RuntimeError("downstream rejects everything")

    # five attempts one second apart: finishing them would take 4 s and dead-letter the event
    runner = kit.runner(
        [Subscription("record.ingested", handler=always_down)], max_attempts=5, backoff_initial_s=1.0, backoff_max_s=1.0
    )
    await runner.start()
    await kit.publish([kit.event("a")])
    await kit.wait_for(lambda: calls["a"] == 1, "the first attempt")

    started = time.monotonic()
    await runner.stop()
    assert time.monotonic() - started < 0.8, "stop() waited for the retries"
    assert not runner.running
    assert runner.stats.dead_lettered == 0
    assert await kit.read(kit.dlq, 1, timeout_s=1.0) == []
    assert await kit.committed() == {}

    handled: list[str] = []

    async def works(event: Envelope[Any]) -> None:
        handled.append(event.data.record_id)

    restarted = kit.runner([Subscription("record.ingested", handler=works)])
    await restarted.start()
    await kit.wait_for(lambda: handled == ["a"], "the event after the restart")


async def test_stop_cancels_a_handler_that_hangs_after_the_stop_timeout(kit) -> None:
    entered = asyncio.Event()

    async def hangs(event: Envelope[Any]) -> None:
        entered.set()
        await asyncio.sleep(3600)

    runner = kit.runner([Subscription("record.ingested", handler=hangs)], stop_timeout_s=0.5)
    await runner.start()
    await kit.publish([kit.event("stuck")])
    await asyncio.wait_for(entered.wait(), timeout=20)
    started = time.monotonic()
    await runner.stop()
    assert time.monotonic() - started < 3
    assert not runner.running
    assert await kit.committed() == {}


async def test_a_stopped_consumer_resumes_from_its_committed_offset_without_loss(kit) -> None:
    total = 120
    first: list[str] = []
    second: list[str] = []

    async def slow_first(event: Envelope[Any]) -> None:
        await asyncio.sleep(0.01)
        first.append(event.data.record_id)

    await kit.publish([kit.event(f"r{i:03d}") for i in range(total)])
    runner = kit.runner([Subscription("record.ingested", handler=slow_first)], max_records=10)
    await runner.start()
    await kit.wait_for(lambda: len(first) >= 30, "some progress")
    await runner.stop()
    committed = (await kit.committed())[0]
    assert committed == len(first) < total, "stop() must commit exactly what was handled"

    async def record_second(event: Envelope[Any]) -> None:
        second.append(event.data.record_id)

    restarted = kit.runner([Subscription("record.ingested", handler=record_second)])
    started = time.monotonic()
    await restarted.start()
    await kit.wait_for(lambda: len(second) > 0, "the restarted consumer's first event")
    # the stopped member left the group: no ~11 s wait for a departed leader (Tansu's join delay is 3 s)
    assert time.monotonic() - started < 8
    await kit.wait_for(lambda: len(first) + len(second) >= total, "the rest")
    assert first + second == [f"r{i:03d}" for i in range(total)]  # resumed exactly at the commit: no loss, no repeat


CHILD = textwrap.dedent(
    """
    import asyncio, os, sys
    from pymongo import AsyncMongoClient, UpdateOne
    from claystream_common.idempotency import MongoFence
    from claystream_common.kafka.consumer import ConsumerRunner, Subscription
    from claystream_common.kafka.producer import EventProducer

    async def main():
        env = os.environ
        db = AsyncMongoClient(env["T_MONGO"])[env["T_DB"]]
        async def store(events):
            await db["records"].bulk_write(
                [UpdateOne({"_id": e.data.record_id}, {"$inc": {"n": 1}}, upsert=True) for e in events])
            await asyncio.sleep(0.05)
        producer = EventProducer(env["T_KAFKA"], service="child")
        await producer.start()
        runner = ConsumerRunner(
            service="child", bootstrap_servers=env["T_KAFKA"], group_id=env["T_GROUP"], producer=producer,
            subscriptions=[Subscription("record.ingested", batch_handler=store)],
            fence=MongoFence(db["processed_events"], env["T_GROUP"]), topic_prefix=env["T_PREFIX"],
            max_records=10, session_timeout_ms=6000, heartbeat_interval_ms=300, rebalance_timeout_ms=6000)
        await runner.start()
        print("started", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


async def test_a_killed_consumer_restarts_from_its_committed_offset_without_loss(kit, embedded_stack, unique_name) -> None:
    total = 200
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(embedded_stack.ports.mongo_url)
    db = mongo[unique_name]
    fence = MongoFence(db["processed_events"], kit.group)
    await fence.ensure_indexes()
    await kit.publish([kit.event(f"k{i:03d}") for i in range(total)])
    env = {
        **os.environ,
        "T_MONGO": embedded_stack.ports.mongo_url,
        "T_DB": unique_name,
        "T_KAFKA": kit.bootstrap,
        "T_GROUP": kit.group,
        "T_PREFIX": kit.prefix,
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while await db["records"].count_documents({}) < 40:
            if child.returncode is not None:
                output = await child.stdout.read() if child.stdout else b""
                raise AssertionError(f"the child consumer exited: {output.decode(errors='replace')}")
            assert time.monotonic() < deadline, "the child consumer made no progress"
            await asyncio.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        await asyncio.wait_for(child.wait(), timeout=10)
        committed = (await kit.committed()).get(0, 0)
        stored_before = await db["records"].count_documents({})
        assert 0 < committed <= stored_before < total

        async def store(events: list[Envelope[Any]]) -> None:
            await db["records"].bulk_write(
                [UpdateOne({"_id": e.data.record_id}, {"$inc": {"n": 1}}, upsert=True) for e in events]
            )

        restarted = kit.runner([Subscription("record.ingested", batch_handler=store)], fence=fence)
        await restarted.start()
        await kit.wait_for(
            lambda: restarted.stats.handled + restarted.stats.duplicates >= total - committed,
            "the restarted consumer to reach the end",
            timeout_s=40,
        )
        counts = {doc["_id"]: doc["n"] async for doc in db["records"].find()}
        assert sorted(counts) == [f"k{i:03d}" for i in range(total)], "events lost"
        # it started exactly at the committed offset: what it saw is the rest of the partition
        assert restarted.stats.handled + restarted.stats.duplicates == total - committed
        # the fence absorbed what the child handled and marked but had not committed; only the one batch
        # in flight at the kill (written, not yet marked) can be applied again: handlers must be idempotent
        applied_twice = sorted(key for key, n in counts.items() if n > 1)
        assert max(counts.values()) <= 2
        assert len(applied_twice) <= 10 and all(int(key[1:]) >= committed for key in applied_twice), applied_twice
        assert restarted.stats.duplicates + len(applied_twice) == stored_before - committed
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await mongo.drop_database(unique_name)
        await mongo.close()


async def test_a_rebalance_in_the_middle_of_a_batch_loses_nothing_and_crashes_nothing(make_kit) -> None:
    """Runner a is stuck in a batch covering both partitions when b joins and takes one of them: a must
    neither commit nor seek the partition it lost (aiokafka raises IllegalStateError) and keep running."""
    kit = await make_kit(2)
    events = [kit.event(f"e{i:02d}") for i in range(20)]
    await kit.producer.publish_many(events, keys=[f"key{i}" for i in range(20)], topic=kit.topic)
    handled: dict[str, list[str]] = {"a": [], "b": []}
    a_entered, b_has_partitions = asyncio.Event(), asyncio.Event()

    async def handle_a(event: Envelope[Any]) -> None:
        if not a_entered.is_set():
            a_entered.set()
            await b_has_partitions.wait()  # the rebalance happens while a is here
        handled["a"].append(event.data.record_id)

    async def handle_b(event: Envelope[Any]) -> None:
        handled["b"].append(event.data.record_id)
        b_has_partitions.set()

    runner_a = kit.runner([Subscription("record.ingested", handler=handle_a)], max_records=100)
    runner_b = kit.runner([Subscription("record.ingested", handler=handle_b)], max_records=100)
    await runner_a.start()
    await asyncio.wait_for(a_entered.wait(), timeout=20)
    await runner_b.start()
    await asyncio.wait_for(b_has_partitions.wait(), timeout=30)
    every_id = {e.data.record_id for e in events}
    await kit.wait_for(
        lambda: set(handled["a"]) | set(handled["b"]) == every_id,
        f"every event (a: {handled['a']}, b: {handled['b']}, {runner_a.stats}, {runner_b.stats})",
        timeout_s=30,
    )
    await asyncio.sleep(1.0)
    assert runner_a.running, "runner a's loop died after losing a partition mid-batch"
    assert runner_b.running
    assert runner_a.stats.dead_lettered == runner_b.stats.dead_lettered == 0

    late = [kit.event(f"late{i}") for i in range(10)]  # both keep consuming their partitions
    await kit.producer.publish_many(late, keys=[f"key{i}" for i in range(10)], topic=kit.topic)
    late_ids = {e.data.record_id for e in late}
    await kit.wait_for(lambda: late_ids <= set(handled["a"]) | set(handled["b"]), "the late events")
    committed: dict[int, int] = {}
    for _ in range(100):
        committed = await kit.committed()
        if sum(committed.values()) == 30:
            break
        await asyncio.sleep(0.1)
    assert sum(committed.values()) == 30, committed
