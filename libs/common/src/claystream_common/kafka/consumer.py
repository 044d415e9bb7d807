"""The one consumer runner every service uses.

decode + validate → idempotency fence → handler → mark processed → commit.

* Handlers are plain coroutines that take validated envelopes (never aiokafka types):
  ``async def handler(event)`` or, for bulk writes, ``async def handler(events)``.
* Offsets are committed only after the handlers' side effects (at-least-once).
* Infrastructure errors (Mongo / Redis / Kafka unreachable) are retried with backoff
  and never dead-lettered: the partition is rewound and polled again.
* Other handler errors are retried ``max_attempts`` times, then the message goes to
  ``<topic>.dlq`` with cause headers; :class:`PermanentError` and undecodable or
  schema-invalid payloads go there at once.  The next message is then processed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind

from claystream_common.errors import PermanentError, is_infrastructure_error
from claystream_common.events import EVENT_TYPES, Envelope, EventDecodeError, decode_event
from claystream_common.idempotency import IdempotencyFence, NoFence
from claystream_common.kafka.dlq import dlq_headers, dlq_topic_for
from claystream_common.kafka.producer import EventProducer
from claystream_common.metrics import (
    CONSUMER_LAG,
    DLQ_PUBLISHED,
    DUPLICATES_ABSORBED,
    EVENTS_HANDLED,
    HANDLER_DURATION,
    HANDLER_RETRIES,
)
from claystream_common.telemetry import extract_context

log = logging.getLogger(__name__)

EventHandler = Callable[[Envelope[Any]], Awaitable[None]]
BatchHandler = Callable[[list[Envelope[Any]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    """One event type and the coroutine that handles it (one at a time, or in batches)."""

    event_type: str
    handler: EventHandler | None = None
    batch_handler: BatchHandler | None = None

    def __post_init__(self) -> None:
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.event_type}")
        if (self.handler is None) == (self.batch_handler is None):
            raise ValueError("give exactly one of handler / batch_handler")

    @property
    def topic(self) -> str:
        return EVENT_TYPES[self.event_type][0].value


@dataclass(slots=True)
class RunnerStats:
    handled: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    ignored: int = 0
    retries: int = 0


@dataclass(slots=True)
class _Decoded:
    message: Any
    event: Envelope[Any] | None = None
    error: str | None = None
    span: Any = field(default=None)


class _Rewind(Exception):
    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


class ConsumerRunner:
    def __init__(
        self,
        *,
        service: str,
        bootstrap_servers: str,
        group_id: str,
        subscriptions: Sequence[Subscription],
        producer: EventProducer,
        fence: IdempotencyFence | None = None,
        max_attempts: int = 5,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
        infrastructure_retry_s: float = 30.0,
        max_records: int = 1000,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 1_000,
        rebalance_timeout_ms: int = 10_000,
        auto_offset_reset: str = "earliest",
    ) -> None:
        self._service = service
        self._bootstrap = bootstrap_servers
        self._group = group_id
        self._subs = {s.event_type: s for s in subscriptions}
        self._topics = sorted({s.topic for s in subscriptions})
        self._producer = producer
        self._fence = fence or NoFence()
        self._max_attempts = max_attempts
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._infra_retry_s = infrastructure_retry_s
        self._max_records = max_records
        self._consumer_options = {
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
            "rebalance_timeout_ms": rebalance_timeout_ms,
            "auto_offset_reset": auto_offset_reset,
        }
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._tracer = trace.get_tracer("claystream.kafka")
        self.stats = RunnerStats()
        self.healthy = False

    @property
    def topics(self) -> list[str]:
        return list(self._topics)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            client_id=f"claystream-{self._service}",
            enable_auto_commit=False,
            max_poll_interval_ms=600_000,
            **self._consumer_options,
        )
        await consumer.start()
        self._consumer = consumer
        self._stopping.clear()
        self.healthy = True
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self._group}")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            except Exception:  # noqa: BLE001 - already logged by the loop
                pass
        if self._consumer is not None:
            await self._consumer.stop()
        self._consumer = None
        self._task = None
        self.healthy = False

    # ------------------------------------------------------------------ loop
    async def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        backoff = self._backoff_initial
        while not self._stopping.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=300, max_records=self._max_records)
            except Exception as error:  # noqa: BLE001
                log.warning("poll failed: %r", error)
                await asyncio.sleep(backoff)
                continue
            for tp, messages in batches.items():
                if not messages:
                    continue
                try:
                    await self._process_partition(tp, messages)
                    await consumer.commit({tp: messages[-1].offset + 1})
                    self.healthy = True
                    backoff = self._backoff_initial
                    self._record_lag(consumer, tp, messages[-1].offset)
                except _Rewind as rewind:
                    self.healthy = False
                    consumer.seek(tp, rewind.offset)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._backoff_max)
                except Exception as error:  # noqa: BLE001 - commit failed etc.: re-read from committed
                    self.healthy = False
                    log.warning("partition %s failed, will re-read: %r", tp, error)
                    consumer.seek(tp, messages[0].offset)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._backoff_max)

    def _record_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition, last_offset: int) -> None:
        highwater = consumer.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(max(0, highwater - last_offset - 1))

    # ------------------------------------------------------------------ one partition's batch
    async def _process_partition(self, tp: TopicPartition, messages: list[Any]) -> None:
        decoded = [self._decode(m) for m in messages]
        for item in decoded:
            if item.error is not None:
                await self._dead_letter(item.message, item.error, attempts=1)
        wanted = [d for d in decoded if d.event is not None and d.event.type in self._subs]
        ignored = sum(1 for d in decoded if d.event is not None and d.event.type not in self._subs)
        if ignored:
            self.stats.ignored += ignored
            EVENTS_HANDLED.labels(self._service, tp.topic, "ignored").inc(ignored)
        if not wanted:
            return
        new_ids = await self._guard(lambda: self._fence.filter_new([str(d.event.event_id) for d in wanted]), wanted[0])
        fresh: list[_Decoded] = []
        seen_in_batch: set[str] = set()
        for item in wanted:
            event_id = str(item.event.event_id)
            if event_id in new_ids and event_id not in seen_in_batch:
                seen_in_batch.add(event_id)
                fresh.append(item)
            else:
                self.stats.duplicates += 1
                DUPLICATES_ABSORBED.labels(self._service, tp.topic).inc()
        for run in _runs_by_type(fresh):
            await self._handle_run(tp.topic, run)

    def _decode(self, message: Any) -> _Decoded:
        try:
            return _Decoded(message=message, event=decode_event(message.value))
        except EventDecodeError as error:
            return _Decoded(message=message, error=str(error))

    async def _handle_run(self, topic: str, run: list[_Decoded]) -> None:
        subscription = self._subs[run[0].event.type]
        if subscription.batch_handler is not None:
            ok = await self._attempt_batch(topic, subscription.batch_handler, run)
            if ok:
                return
            for item in run:  # isolate the bad ones
                await self._attempt_single(topic, lambda e=item.event: subscription.batch_handler([e]), item)
        else:
            for item in run:
                await self._attempt_single(topic, lambda e=item.event: subscription.handler(e), item)

    async def _attempt_batch(self, topic: str, handler: BatchHandler, run: list[_Decoded]) -> bool:
        events = [d.event for d in run]
        spans = [self._start_process_span(topic, d) for d in run]
        links = [Link(s.get_span_context()) for s in spans]
        try:
            with self._tracer.start_as_current_span(
                f"{topic} process batch",
                kind=SpanKind.CONSUMER,
                links=links,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": topic,
                    "messaging.batch.message_count": len(events),
                    "messaging.consumer.group.name": self._group,
                },
            ):
                await self._with_retries(topic, lambda: handler(events), run[0])
            await self._guard(lambda: self._fence.mark_processed([str(e.event_id) for e in events]), run[0])
            self.stats.handled += len(events)
            EVENTS_HANDLED.labels(self._service, topic, "ok").inc(len(events))
            return True
        except _Rewind:
            raise
        except Exception as error:  # noqa: BLE001 - falls back to one at a time
            log.warning("batch of %d on %s failed, isolating: %r", len(events), topic, error)
            return False
        finally:
            for span in spans:
                span.end()

    async def _attempt_single(self, topic: str, call: Callable[[], Awaitable[None]], item: _Decoded) -> None:
        span = self._start_process_span(topic, item)
        try:
            with trace.use_span(span, end_on_exit=False):
                attempts = await self._with_retries(topic, call, item)
            await self._guard(lambda: self._fence.mark_processed([str(item.event.event_id)]), item)
            self.stats.handled += 1
            EVENTS_HANDLED.labels(self._service, topic, "ok").inc()
            span.set_attribute("claystream.attempts", attempts)
        except _Rewind:
            raise
        except _Exhausted as exhausted:
            span.record_exception(exhausted.cause)
            await self._dead_letter(item.message, exhausted.cause, attempts=exhausted.attempts)
        finally:
            span.end()

    def _start_process_span(self, topic: str, item: _Decoded) -> Any:
        parent = extract_context(item.message.headers, item.event.traceparent if item.event else None)
        return self._tracer.start_span(
            f"{topic} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": topic,
                "messaging.destination.partition.id": str(item.message.partition),
                "messaging.kafka.offset": item.message.offset,
                "messaging.message.id": str(item.event.event_id) if item.event else "",
                "messaging.consumer.group.name": self._group,
                "claystream.event.type": item.event.type if item.event else "",
            },
        )

    async def _with_retries(self, topic: str, call: Callable[[], Awaitable[None]], item: _Decoded) -> int:
        """Run ``call``; infrastructure errors rewind, others retry then raise _Exhausted."""
        attempt = 0
        delay = self._backoff_initial
        infra_deadline: float | None = None
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                await call()
                HANDLER_DURATION.labels(self._service, topic).observe(time.perf_counter() - started)
                return attempt
            except PermanentError as error:
                raise _Exhausted(error, attempt) from error
            except Exception as error:  # noqa: BLE001
                if is_infrastructure_error(error):
                    infra_deadline = infra_deadline or time.monotonic() + self._infra_retry_s
                    if time.monotonic() > infra_deadline or self._stopping.is_set():
                        raise _Rewind(item.message.offset) from error
                    attempt -= 1  # an outage does not use up the message's attempts
                elif attempt >= self._max_attempts:
                    raise _Exhausted(error, attempt) from error
                self.stats.retries += 1
                HANDLER_RETRIES.labels(self._service, topic).inc()
                log.info("retrying %s after %r (attempt %d)", topic, error, attempt)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)

    async def _guard(self, call: Callable[[], Awaitable[Any]], item: _Decoded) -> Any:
        """Fence calls: infrastructure errors rewind the partition instead of failing the message."""
        try:
            return await call()
        except Exception as error:  # noqa: BLE001
            raise _Rewind(item.message.offset) from error

    async def _dead_letter(self, message: Any, error: BaseException | str, *, attempts: int) -> None:
        headers = dlq_headers(message, error=error, attempts=attempts, group=self._group)
        try:
            await self._producer.send_raw(dlq_topic_for(message.topic), message.value, key=message.key, headers=headers)
        except Exception as publish_error:  # noqa: BLE001 - never skip a message we could not park
            raise _Rewind(message.offset) from publish_error
        self.stats.dead_lettered += 1
        DLQ_PUBLISHED.labels(self._service, message.topic).inc()
        log.warning("dead-lettered %s[%s]@%s: %s", message.topic, message.partition, message.offset, error)


class _Exhausted(Exception):
    def __init__(self, cause: BaseException, attempts: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.attempts = attempts


def _runs_by_type(items: list[_Decoded]) -> list[list[_Decoded]]:
    """Consecutive events of the same type, order kept."""
    runs: list[list[_Decoded]] = []
    for item in items:
        if runs and runs[-1][0].event.type == item.event.type:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs
