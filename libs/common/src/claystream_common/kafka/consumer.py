"""The one consumer runner every service uses: decode + validate → fence → handler → mark → commit.

* Handlers are plain coroutines taking validated envelopes: ``handler(event)`` or ``batch_handler(events)``.
* A partition's messages are handled in offset order (the partitions of one poll concurrently); offsets are
  committed once per poll, only after the handlers' side effects (at-least-once).  ``fenced=False``
  subscriptions (idempotent by natural keys) skip the fence.  A failed commit is retried with the next
  one; partitions lost to a rebalance are never committed or sought (the new owner re-reads them; the
  fence or the handler's idempotence absorbs what was done).
* Infrastructure errors (Mongo / Redis / Kafka unreachable, TransientError) are retried and never
  dead-lettered: after ``infrastructure_retry_s`` the partition is rewound and polled again.
* Other handler errors are retried ``max_attempts`` times, then the message goes to ``<topic>.dlq`` with
  cause headers (PermanentError, undecodable and schema-invalid payloads at once) and the next one is
  processed.  A failing batch is retried, then its events one at a time: only the bad ones are parked.
* ``stop()`` ends retries and backoffs at once, leaving the message in hand uncommitted (attempts intact,
  not dead-lettered); what was handled is committed and the next start resumes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError
from opentelemetry import trace

from claystream_common.events import Envelope, EventDecodeError, decode_event
from claystream_common.idempotency import IdempotencyFence, NoFence
from claystream_common.kafka.dlq import forward_to_dlq
from claystream_common.kafka.outcomes import Decoded, Exhausted, Revoked, Rewind
from claystream_common.kafka.producer import EventProducer
from claystream_common.kafka.retries import RetryPolicy, call_with_retries
from claystream_common.kafka.subscription import BatchHandler, EventHandler, RunnerStats, Subscription
from claystream_common.kafka.tansu import let_first_generation_leave
from claystream_common.kafka.tracing import start_batch_span, start_process_span, start_process_spans
from claystream_common.metrics import (
    CONSUMER_LAG,
    DLQ_PUBLISHED,
    DUPLICATES_ABSORBED,
    EVENTS_HANDLED,
    HANDLER_DURATION,
    HANDLER_RETRIES,
)

log = logging.getLogger(__name__)

__all__ = ["BatchHandler", "ConsumerRunner", "EventHandler", "RunnerStats", "Subscription"]


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
        max_partition_fetch_bytes: int = 8 * 1024 * 1024,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 1_000,
        rebalance_timeout_ms: int = 10_000,
        auto_offset_reset: str = "earliest",
        stop_timeout_s: float = 10.0,
        poll_timeout_ms: int = 300,
        topic_prefix: str = "",
    ) -> None:
        self._service = service
        self._bootstrap = bootstrap_servers
        self._group = group_id
        self._subs = {s.event_type: s for s in subscriptions}
        self._topics = sorted({f"{topic_prefix}{s.topic}" for s in subscriptions})  # prefix: isolated test runs
        self._producer = producer
        self._fence = fence or NoFence()
        # one backoff for a handler's retries and for the poll's own pauses (a failed poll, a rewind)
        self._retry = RetryPolicy(max_attempts, backoff_initial_s, backoff_max_s, infrastructure_retry_s)
        self._max_records = max_records
        self._stop_timeout_s = stop_timeout_s
        self._poll_timeout_ms = poll_timeout_ms
        self._consumer_options = {
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
            "rebalance_timeout_ms": rebalance_timeout_ms,
            "auto_offset_reset": auto_offset_reset,
            "max_partition_fetch_bytes": max_partition_fetch_bytes,  # why 8 MiB: settings.kafka_max_partition_fetch_bytes
        }
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._pending_commits: dict[TopicPartition, int] = {}
        self._backoff = backoff_initial_s
        self.stats = RunnerStats()
        self.healthy = False

    @property
    def topics(self) -> list[str]:
        return list(self._topics)

    @property
    def fence(self) -> IdempotencyFence:
        return self._fence

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self.running:
            return
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            client_id=f"claystream-{self._service}",
            enable_auto_commit=False,
            max_poll_interval_ms=600_000,
            **self._consumer_options,
        )
        try:
            await consumer.start()
        except BaseException:
            with contextlib.suppress(Exception):  # do not leak its connections and background tasks
                await consumer.stop()
            raise
        self._consumer = consumer
        self._stopping.clear()
        self._pending_commits.clear()
        self._backoff = self._retry.backoff_initial_s
        self.healthy = True
        self._task = asyncio.create_task(self._run(consumer), name=f"consumer:{self._group}")

    async def stop(self) -> None:
        """Finish the batch in hand (at most ``stop_timeout_s``), commit what was handled, leave the group."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=self._stop_timeout_s)
            if not done:
                log.warning("consumer %s did not stop within %.0fs; cancelling it", self._group, self._stop_timeout_s)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        consumer, self._consumer = self._consumer, None
        self.healthy = False
        if consumer is not None:
            try:
                await self._flush_commits(consumer)
            finally:
                let_first_generation_leave(consumer)
                await consumer.stop()

    # ------------------------------------------------------------------ loop
    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while not self._stopping.is_set():
            await self._flush_commits(consumer)
            try:
                batches = await consumer.getmany(timeout_ms=self._poll_timeout_ms, max_records=self._max_records)
            except Exception as error:  # noqa: BLE001 - the client reconnects by itself
                self.healthy = False
                log.warning("poll failed: %r", error)
                await self._pause(self._next_backoff())
                continue
            # partitions concurrently: one's store round trips overlap another's decoding (docs/PERFORMANCE.md)
            work = [self._consume_partition_safely(consumer, tp, messages) for tp, messages in batches.items() if messages]
            await asyncio.gather(*work)
            await self._flush_commits(consumer)

    async def _consume_partition_safely(self, consumer: AIOKafkaConsumer, tp: TopicPartition, messages: list[Any]) -> None:
        if self._stopping.is_set():
            return  # neither handled nor committed: the next start reads them again
        try:
            await self._consume_partition(consumer, tp, messages)
        except Exception:  # bookkeeping must never end the loop
            log.exception("consumer loop error on %s", tp)

    async def _consume_partition(self, consumer: AIOKafkaConsumer, tp: TopicPartition, messages: list[Any]) -> None:
        if tp not in consumer.assignment():
            return  # revoked since the poll: the new owner reads these from the last commit
        try:
            await self._process_partition(tp, messages)
        except Rewind as rewind:
            await self._rewind(consumer, tp, rewind.offset, rewind.__cause__)
            return
        except Revoked:
            return
        except Exception as error:
            log.exception("unexpected failure on %s; re-reading from %d", tp, messages[0].offset)
            await self._rewind(consumer, tp, messages[0].offset, error)
            return
        self._pending_commits[tp] = max(self._pending_commits.get(tp, 0), messages[-1].offset + 1)
        self.healthy = True
        self._backoff = self._retry.backoff_initial_s
        self._record_lag(consumer, tp, messages[-1].offset)

    async def _flush_commits(self, consumer: AIOKafkaConsumer) -> None:
        """Commit handled offsets of partitions still ours; keep failed ones for the next try."""
        if not self._pending_commits:
            return
        assigned = consumer.assignment()
        offsets = {tp: offset for tp, offset in self._pending_commits.items() if tp in assigned}
        self._pending_commits = {}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except Exception as error:  # noqa: BLE001 - rebalance or broker hiccup: handled work is fenced
            self.stats.commit_failures += 1
            log.warning("commit of %s failed, retrying with the next one: %r", offsets, error)
            for tp, offset in offsets.items():
                self._pending_commits[tp] = max(self._pending_commits.get(tp, 0), offset)

    async def _rewind(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int, cause: object) -> None:
        self.healthy = False
        self.stats.rewinds += 1
        log.warning("partition %s rewound to offset %d: %r", tp, offset, cause)
        if tp in consumer.assignment():
            with contextlib.suppress(IllegalStateError, AssertionError):  # revoked meanwhile
                consumer.seek(tp, offset)
        await self._pause(self._next_backoff())

    def _next_backoff(self) -> float:
        delay = self._backoff
        self._backoff = min(self._backoff * 2, self._retry.backoff_max_s)
        return delay

    async def _pause(self, seconds: float) -> bool:
        """Sleep unless ``stop()`` comes first; True when stopping."""
        if not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()

    def _record_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition, last_offset: int) -> None:
        if tp not in consumer.assignment():
            return  # revoked meanwhile: highwater() would raise AssertionError
        highwater = consumer.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(max(0, highwater - last_offset - 1))

    # ------------------------------------------------------------------ one partition's batch, in offset order
    async def _process_partition(self, tp: TopicPartition, messages: list[Any]) -> None:
        decoded = [self._decode(m) for m in messages]
        wanted = [d for d in decoded if d.event is not None and d.event.type in self._subs]
        fenced = [d.event_id for d in wanted if self._subs[d.event.type].fenced]  # type: ignore[union-attr]
        new_ids = {d.event_id for d in wanted} - set(fenced)  # unfenced: idempotent handlers, every event is "new"
        if fenced:
            new_ids |= await self._guard(lambda: self._fence.filter_new(fenced), messages[0].offset)
        run: list[Decoded] = []
        seen: set[str] = set()
        for item in decoded:
            event = item.event
            if event is None:
                await self._handle_run(tp.topic, run)
                run = []
                await self._dead_letter(item.message, item.error or "undecodable", attempts=1)
            elif event.type not in self._subs:
                self.stats.ignored += 1
                EVENTS_HANDLED.labels(self._service, tp.topic, "ignored").inc()
            elif item.event_id in seen or item.event_id not in new_ids:
                self.stats.duplicates += 1
                DUPLICATES_ABSORBED.labels(self._service, tp.topic).inc()
            else:
                seen.add(item.event_id)
                if run and run[0].event.type != event.type:  # type: ignore[union-attr]
                    await self._handle_run(tp.topic, run)
                    run = []
                run.append(item)
        await self._handle_run(tp.topic, run)

    def _check_owned(self, message: Any) -> None:
        consumer = self._consumer
        if consumer is not None and TopicPartition(message.topic, message.partition) not in consumer.assignment():
            raise Revoked

    def _decode(self, message: Any) -> Decoded:
        try:
            event = decode_event(message.value)
            return Decoded(message=message, event=event, event_id=str(event.event_id))
        except EventDecodeError as error:
            return Decoded(message=message, error=str(error))

    async def _handle_run(self, topic: str, run: list[Decoded]) -> None:
        """Consecutive events of one type: one batch call, or one call each."""
        if not run:
            return
        self._check_owned(run[0].message)
        subscription = self._subs[run[0].event.type]  # type: ignore[union-attr]
        batch_handler = subscription.batch_handler
        if batch_handler is None:
            handler = subscription.handler
            assert handler is not None
            for item in run:
                self._check_owned(item.message)
                await self._attempt_single(topic, handler, item)
            return
        if await self._attempt_batch(topic, batch_handler, run):
            return
        if self._stopping.is_set():
            raise Rewind(run[0].message.offset)
        for item in run:  # isolate the bad ones
            self._check_owned(item.message)
            await self._attempt_single(topic, lambda event: batch_handler([event]), item)

    async def _attempt_batch(self, topic: str, handler: BatchHandler, run: list[Decoded]) -> bool:
        events: list[Envelope[Any]] = [d.event for d in run]  # type: ignore[misc]
        spans = start_process_spans([d.message for d in run], events, group=self._group)
        first_offset = run[0].message.offset
        try:
            with start_batch_span(topic, spans, group=self._group, message_count=len(run)):
                await self._with_retries(topic, lambda: handler(events), first_offset)
            if self._subs[events[0].type].fenced:
                await self._guard(lambda: self._fence.mark_processed([d.event_id for d in run]), first_offset)
        except Exhausted as exhausted:
            log.warning("batch of %d on %s failed, isolating: %r", len(events), topic, exhausted.cause)
            return False
        finally:
            for span in spans:
                span.end()
        self.stats.handled += len(events)
        EVENTS_HANDLED.labels(self._service, topic, "ok").inc(len(events))
        return True

    async def _attempt_single(self, topic: str, handler: EventHandler, item: Decoded) -> None:
        event = item.event
        assert event is not None
        offset = item.message.offset
        span = start_process_span(item.message, event, group=self._group, event_id=item.event_id)
        try:
            with trace.use_span(span, end_on_exit=False):
                attempts = await self._with_retries(topic, lambda: handler(event), offset)
            if self._subs[event.type].fenced:
                await self._guard(lambda: self._fence.mark_processed([item.event_id]), offset)
            span.set_attribute("claystream.attempts", attempts)
        except Exhausted as exhausted:
            span.record_exception(exhausted.cause)
            await self._dead_letter(item.message, exhausted.cause, attempts=exhausted.attempts)
            return
        finally:
            span.end()
        self.stats.handled += 1
        EVENTS_HANDLED.labels(self._service, topic, "ok").inc()

    async def _with_retries(self, topic: str, call: Callable[[], Awaitable[None]], offset: int) -> int:
        """``call`` under the retry policy (kafka/retries.py); returns the attempts it took."""

        def retried(error: BaseException, attempt: int) -> None:
            self.stats.retries += 1
            HANDLER_RETRIES.labels(self._service, topic).inc()
            log.info("retrying %s@%d after %r (attempt %d)", topic, offset, error, attempt)

        attempts, seconds = await call_with_retries(call, policy=self._retry, offset=offset, pause=self._pause, on_retry=retried)
        HANDLER_DURATION.labels(self._service, topic).observe(seconds)
        return attempts

    async def _guard(self, call: Callable[[], Awaitable[Any]], offset: int) -> Any:
        """Fence calls: any failure rewinds the partition instead of failing the message."""
        try:
            return await call()
        except Exception as error:
            raise Rewind(offset) from error

    async def _dead_letter(self, message: Any, error: BaseException | str, *, attempts: int) -> None:
        try:
            await forward_to_dlq(self._producer, message, error, attempts=attempts, group=self._group)
        except Exception as publish_error:
            raise Rewind(message.offset) from publish_error
        self.stats.dead_lettered += 1
        DLQ_PUBLISHED.labels(self._service, message.topic).inc()
        log.warning("dead-lettered %s[%s]@%s: %s", message.topic, message.partition, message.offset, error)

