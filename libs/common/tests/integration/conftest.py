"""Helpers for the consumer-runner tests: an isolated topic set per test, runners, DLQ reads, offsets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from claystream_common.events import Envelope, RecordIngested, new_event
from claystream_common.idempotency import IdempotencyFence
from claystream_common.kafka.admin import ensure_topics
from claystream_common.kafka.consumer import ConsumerRunner, Subscription
from claystream_common.kafka.producer import EventProducer
from claystream_common.topics import Topic, TopicSpec
from claystream_devstack.servers import EmbeddedStack

# short group timeouts so joins, rebalances and failovers take seconds, not tens of seconds
FAST_RUNNER = {
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 300,
    "rebalance_timeout_ms": 6000,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.2,
    "poll_timeout_ms": 100,
}


class KafkaKit:
    """One test's private topics (``<prefix>records`` and its DLQ), producer and runners."""

    def __init__(self, stack: EmbeddedStack, name: str, producer: EventProducer) -> None:
        self.stack = stack
        self.bootstrap = stack.ports.kafka_bootstrap
        self.prefix = f"{name}-"
        self.topic = f"{self.prefix}{Topic.RECORDS.value}"
        self.dlq = f"{self.topic}.dlq"
        self.producer = producer
        self.group = f"{name}-group"
        self._runners: list[ConsumerRunner] = []

    async def create_topics(self, partitions: int) -> None:
        await ensure_topics(self.bootstrap, [TopicSpec(self.topic, partitions), TopicSpec(self.dlq, 1)])

    def runner(
        self,
        subscriptions: Sequence[Subscription],
        *,
        fence: IdempotencyFence | None = None,
        group: str | None = None,
        **options: Any,
    ) -> ConsumerRunner:
        runner = ConsumerRunner(
            service="runner-test",
            bootstrap_servers=self.bootstrap,
            group_id=group or self.group,
            subscriptions=subscriptions,
            producer=self.producer,
            fence=fence,
            topic_prefix=self.prefix,
            **{**FAST_RUNNER, **options},
        )
        self._runners.append(runner)
        return runner

    async def publish(self, events: Sequence[Envelope[Any]], *, key: str | None = "same") -> None:
        """Publish to this test's topic (one key by default: one partition, offsets in publish order)."""
        await self.producer.publish_many(events, keys=[key] * len(events), topic=self.topic)

    async def send_raw(self, value: bytes | None, *, key: bytes | None = b"same") -> None:
        await self.producer.send_raw(self.topic, value, key=key)

    async def read(self, topic: str, count: int, *, timeout_s: float = 10.0) -> list[Any]:
        """The first ``count`` messages of a topic (all partitions), without joining a group."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = await _partitions(consumer, topic)
            consumer.assign([TopicPartition(topic, p) for p in partitions])
            await consumer.seek_to_beginning()
            out: list[Any] = []
            deadline = asyncio.get_running_loop().time() + timeout_s
            while len(out) < count and asyncio.get_running_loop().time() < deadline:
                for messages in (await consumer.getmany(timeout_ms=200)).values():
                    out.extend(messages)
            return out
        finally:
            await consumer.stop()

    async def committed(self, group: str | None = None) -> dict[int, int]:
        """Committed offsets of this test's topic for a group: {partition: next offset to read}.

        Asked through a consumer that never subscribes (so it never joins the group).
        """
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group or self.group, enable_auto_commit=False)
        await consumer.start()
        try:
            out: dict[int, int] = {}
            for partition in await _partitions(consumer, self.topic):
                offset = await consumer.committed(TopicPartition(self.topic, partition))
                if offset is not None and offset >= 0:
                    out[partition] = offset
            return out
        finally:
            await consumer.stop()

    @staticmethod
    def event(key: str, **fields: Any) -> Envelope[Any]:
        """A ``record.ingested`` event whose record id is ``key``."""
        return new_event("record.ingested", RecordIngested(record_id=key, fields={"text": key, **fields}), dataset="runner")

    @staticmethod
    async def wait_for(condition: Callable[[], bool], what: str, *, timeout_s: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
            await asyncio.sleep(0.02)

    async def stop_all(self) -> None:
        for runner in self._runners:
            await runner.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    for _ in range(50):
        await consumer.topics()
        found = consumer.partitions_for_topic(topic)
        if found:
            return sorted(found)
        await asyncio.sleep(0.1)
    raise AssertionError(f"topic {topic} not found")


@pytest.fixture
async def make_kit(embedded_stack: EmbeddedStack, unique_name: str) -> AsyncIterator[Callable[..., Awaitable[KafkaKit]]]:
    """``await make_kit(partitions=N)``: private topic + DLQ, started producer; runners are stopped after."""
    producer = EventProducer(embedded_stack.ports.kafka_bootstrap, service="runner-test")
    await producer.start()
    kits: list[KafkaKit] = []

    async def _make(partitions: int = 1) -> KafkaKit:
        kafka_kit = KafkaKit(embedded_stack, f"{unique_name}{len(kits) or ''}", producer)
        await kafka_kit.create_topics(partitions)
        kits.append(kafka_kit)
        return kafka_kit

    try:
        yield _make
    finally:
        for kafka_kit in kits:
            await kafka_kit.stop_all()
        await producer.stop()


@pytest.fixture
async def kit(make_kit: Callable[..., Awaitable[KafkaKit]]) -> KafkaKit:
    """A one-partition private topic: offsets follow publish order."""
    return await make_kit(1)
