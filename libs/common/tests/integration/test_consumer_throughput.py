"""What the runner does to keep the records path at line rate (docs/PERFORMANCE.md), against the real
embedded Kafka: unfenced subscriptions skip the fence, and the partitions of one poll overlap."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from claystream_common.events import Envelope
from claystream_common.idempotency import InMemoryFence
from claystream_common.kafka.consumer import Subscription

pytestmark = pytest.mark.slow


class CountingFence(InMemoryFence):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def filter_new(self, event_ids: list[str]) -> set[str]:
        self.lookups += 1
        return await super().filter_new(event_ids)


async def test_an_unfenced_subscription_neither_reads_nor_writes_the_fence(kit) -> None:
    stored: list[str] = []

    async def store(events: list[Envelope[Any]]) -> None:
        stored.extend(e.data.record_id for e in events)

    fence = CountingFence()
    twice = kit.event("twice")
    await kit.publish([twice, twice, kit.event("other")])  # one poll: the in-poll duplicate is still dropped
    runner = kit.runner([Subscription("record.ingested", batch_handler=store, fenced=False)], fence=fence)
    await runner.start()
    await kit.wait_for(lambda: stored == ["twice", "other"], "the two distinct events")
    assert runner.stats.duplicates == 1

    await kit.publish([twice])  # a redelivery in a later poll reaches the (idempotent) handler
    await kit.wait_for(lambda: stored == ["twice", "other", "twice"], "the redelivered event")
    assert fence.lookups == 0
    assert fence.processed == set()


async def test_the_partitions_of_one_poll_are_handled_concurrently(make_kit) -> None:
    kit = await make_kit(2)
    in_flight = 0
    most_in_flight = 0
    both = asyncio.Event()
    stored: list[str] = []

    async def store(events: list[Envelope[Any]]) -> None:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        if in_flight == 2:
            both.set()
        try:
            await asyncio.wait_for(both.wait(), timeout=3.0)  # a serial runner never gets a second call in
        except TimeoutError:
            pass
        finally:
            in_flight -= 1
        stored.extend(e.data.record_id for e in events)

    for i in range(40):  # distinct keys: both partitions get events
        await kit.publish([kit.event(f"r{i}")], key=f"k{i}")
    runner = kit.runner([Subscription("record.ingested", batch_handler=store, fenced=False)])
    await runner.start()
    await kit.wait_for(lambda: len(stored) == 40, "all events")
    assert most_in_flight == 2
    for _ in range(50):
        if sum((await kit.committed()).values()) == 40:
            break
        await asyncio.sleep(0.1)
    assert sum((await kit.committed()).values()) == 40
