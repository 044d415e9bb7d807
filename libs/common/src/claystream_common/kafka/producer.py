"""The event producer: acks=all, per-key ordering, event headers and trace context.

The embedded broker rejects idempotent producers, so delivery is at-least-once;
consumers are idempotent by event id and natural keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from claystream_common.events import Envelope, encode_event, topic_for
from claystream_common.metrics import EVENTS_PUBLISHED
from claystream_common.telemetry import current_traceparent, inject_headers, publish_parent

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """Kafka did not acknowledge a publish (the caller must not report success)."""


class EventProducer:
    """Publishes envelopes; ``publish`` returns only after the broker acknowledged."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        service: str,
        client_id: str | None = None,
        request_timeout_ms: int = 10_000,
        linger_ms: int = 2,
        max_batch_size: int = 512 * 1024,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._service = service
        self._client_id = client_id or f"claystream-{service}"
        self._request_timeout_ms = request_timeout_ms
        self._linger_ms = linger_ms
        self._max_batch_size = max_batch_size
        self._producer: AIOKafkaProducer | None = None
        self._tracer = trace.get_tracer("claystream.kafka")
        self._start_lock = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        async with self._start_lock:
            if self._producer is not None:
                return
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id=self._client_id,
                acks="all",
                enable_idempotence=False,
                linger_ms=self._linger_ms,
                max_batch_size=self._max_batch_size,
                request_timeout_ms=self._request_timeout_ms,
                compression_type=None,
            )
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):  # do not leak its connections and background tasks
                    await producer.stop()
                raise
            self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def ping(self) -> None:
        """Raise unless the broker answers a metadata request."""
        producer = self._require()
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=3)

    def _require(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise PublishError("producer is not started (Kafka unreachable at start-up?)")
        return self._producer

    async def publish(self, event: Envelope[Any], *, key: str | None = None, topic: str | None = None) -> None:
        await self.publish_many([event], keys=[key], topic=topic)

    async def publish_many(
        self,
        events: Sequence[Envelope[Any]],
        *,
        keys: Sequence[str | None] | None = None,
        topic: str | None = None,
    ) -> None:
        """Send all, then wait for every acknowledgement; raise PublishError if any failed."""
        if not events:
            return
        producer = self._require()
        keys = keys or [None] * len(events)
        futures: list[asyncio.Future[Any]] = []
        target_topics: list[str] = []
        try:
            for event, key in zip(events, keys, strict=True):
                name = topic or topic_for(event.type).value
                target_topics.append(name)
                parent, links = publish_parent(event.traceparent, event.links)
                with self._tracer.start_as_current_span(
                    f"{name} publish",
                    context=parent,
                    links=links,
                    kind=SpanKind.PRODUCER,
                    attributes={
                        "messaging.system": "kafka",
                        "messaging.operation.type": "send",
                        "messaging.destination.name": name,
                        "messaging.message.id": str(event.event_id),
                        "messaging.kafka.message.key": key or "",
                        "claystream.event.type": event.type,
                    },
                ):
                    if event.traceparent is None:
                        event = event.model_copy(update={"traceparent": current_traceparent()})
                    headers = inject_headers(
                        [
                            ("event-id", str(event.event_id).encode()),
                            ("event-type", event.type.encode()),
                            ("schema-version", event.schema_version.encode()),
                        ]
                    )
                    futures.append(
                        await producer.send(
                            name,
                            value=encode_event(event),
                            key=key.encode() if key else None,
                            headers=headers,
                        )
                    )
            await asyncio.gather(*futures)
        except Exception as error:
            for future in futures:
                if not future.done():
                    future.cancel()
            raise PublishError(f"Kafka did not acknowledge the publish: {error!r}") from error
        for name in target_topics:
            EVENTS_PUBLISHED.labels(self._service, name).inc()

    async def send_raw(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Send bytes as they are (DLQ forwarding, replays, poison tests) and wait for the ack."""
        producer = self._require()
        try:
            future = await producer.send(topic, value=value, key=key, headers=headers or [])
            await future
        except Exception as error:
            raise PublishError(f"Kafka did not acknowledge the publish: {error!r}") from error
