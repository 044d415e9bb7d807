"""A lean bulk path on top of the shared EventProducer (same connection, acks=all).

``publish_encoded`` takes envelopes already serialised (see ``services/encoding.py``),
partitions them by key exactly as the Java/aiokafka default partitioner does (murmur2),
fills one record batch per partition and waits for every acknowledgement.  One
producer span per call instead of one per event keeps 20k+ events/s within one core.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
from claystream_common.events import DEFAULT_SCHEMA_VERSION
from claystream_common.kafka.producer import EventProducer, PublishError
from claystream_common.metrics import EVENTS_PUBLISHED
from claystream_common.telemetry import inject_headers
from opentelemetry.trace import SpanKind

from claystream_ingest.services.ports import EncodedEvent

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), word-at-a-time."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    words = length // 4
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    extra = length & 3
    tail = words * 4
    if extra == 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def murmur2_many(keys: Sequence[bytes]) -> list[int]:
    """``murmur2`` of many keys at once (numpy, grouped by key length)."""
    out = np.zeros(len(keys), dtype=np.uint64)
    by_length: dict[int, list[int]] = {}
    for index, key in enumerate(keys):
        by_length.setdefault(len(key), []).append(index)
    m, mask = np.uint64(_M), np.uint64(_MASK)
    for length, indexes in by_length.items():
        data = np.frombuffer(b"".join(keys[i] for i in indexes), dtype=np.uint8).reshape(len(indexes), length)
        h = np.full(len(indexes), (0x9747B28C ^ length) & _MASK, dtype=np.uint64)
        words = length // 4
        if words:
            blocks = np.ascontiguousarray(data[:, : words * 4]).view("<u4").astype(np.uint64)
            for j in range(words):
                k = (blocks[:, j] * m) & mask
                k ^= k >> np.uint64(24)
                k = (k * m) & mask
                h = ((h * m) & mask) ^ k
        tail = data[:, words * 4:].astype(np.uint64)
        extra = length & 3
        if extra == 3:
            h ^= tail[:, 2] << np.uint64(16)
        if extra >= 2:
            h ^= tail[:, 1] << np.uint64(8)
        if extra >= 1:
            h ^= tail[:, 0]
            h = (h * m) & mask
        h ^= h >> np.uint64(13)
        h = (h * m) & mask
        h ^= h >> np.uint64(15)
        out[indexes] = h
    return out.tolist()


def partitions_for(keys: Sequence[bytes], partitions: Sequence[int]) -> list[int]:
    """The default partitioner's choice for each key: ``partitions[(murmur2 & 0x7fffffff) % n]``."""
    count = len(partitions)
    return [partitions[(h & 0x7FFFFFFF) % count] for h in murmur2_many(keys)]


class BulkEventProducer(EventProducer):
    """EventProducer plus ``publish_encoded`` for pre-serialised envelopes."""

    async def publish_encoded(self, topic: str, events: Sequence[EncodedEvent]) -> None:
        if not events:
            return
        producer = self._require()
        with self._tracer.start_as_current_span(
            f"{topic} publish",
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.operation.type": "send",
                        "messaging.destination.name": topic, "messaging.batch.message_count": len(events)},
        ):
            trace_headers = inject_headers()
            futures: list[asyncio.Future[Any]] = []
            try:
                partitions = sorted(await producer.partitions_for(topic))
                batches: dict[int, Any] = {}
                for event, partition in zip(events, partitions_for([e.key for e in events], partitions), strict=True):
                    headers = [("event-id", event.event_id.encode()), ("event-type", event.event_type.encode()),
                               ("schema-version", DEFAULT_SCHEMA_VERSION.encode()), *trace_headers]
                    batch = batches.get(partition)
                    if batch is None:
                        batch = batches[partition] = producer.create_batch()
                    if batch.append(key=event.key, value=event.value, timestamp=None, headers=headers) is None:
                        futures.append(await producer.send_batch(batch, topic, partition=partition))
                        batch = batches[partition] = producer.create_batch()
                        if batch.append(key=event.key, value=event.value, timestamp=None, headers=headers) is None:
                            raise PublishError(f"event {event.event_id} is larger than the producer's batch size")
                for partition, batch in batches.items():
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                await asyncio.gather(*futures)
            except PublishError:
                _cancel(futures)
                raise
            except Exception as error:
                _cancel(futures)
                raise PublishError(f"Kafka did not acknowledge the publish: {error!r}") from error
        EVENTS_PUBLISHED.labels(self._service, topic).inc(len(events))


def _cancel(futures: list[asyncio.Future[Any]]) -> None:
    for future in futures:
        if not future.done():
            future.cancel()
