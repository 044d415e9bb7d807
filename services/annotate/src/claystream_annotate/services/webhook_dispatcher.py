"""Runs webhook deliveries: one lane per subscription (its own bounded queue and workers, so a slow or
dead target only ever waits on itself), a result writer that records attempts in batches, and a retry
poller that claims due deliveries from MongoDB (the persisted schedule: nothing waits in memory for a
retry, and a restart loses nothing — a delivery whose lease ran out is simply claimed again).

Fresh deliveries skip the poller: the fan-out consumer hands them to their lane at once (a full lane
marks them due, and the poller takes them when the lane has room).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from prometheus_client import Counter, Histogram

from claystream_annotate.services.webhook_delivery import (
    AttemptResult,
    RetrySchedule,
    SendOutcome,
    attempt_result,
    health_updates,
)
from claystream_annotate.services.webhook_payloads import signature_headers
from claystream_annotate.services.webhook_targets import refusal_reason

log = logging.getLogger(__name__)
DELIVERY_ATTEMPTS = Counter("claystream_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])
DELIVERY_LATENCY = Histogram(
    "claystream_webhook_attempt_duration_seconds", "Webhook request duration",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SUBSCRIPTIONS_DISABLED = Counter("claystream_webhook_subscriptions_disabled_total", "Subscriptions disabled after repeated failure")


class Sender(Protocol):
    async def send(self, url: str, headers: dict[str, str], body: bytes) -> SendOutcome: ...


class SubscriptionStore(Protocol):
    async def get(self, subscription_id: str) -> dict[str, Any] | None: ...
    async def all_enabled(self) -> list[dict[str, Any]]: ...
    async def record_health(self, updates: dict[str, dict[str, Any]]) -> None: ...
    async def disable(self, subscription_id: str, *, reason: str, at: datetime) -> None: ...


class DeliveryLog(Protocol):
    async def claim_due(
        self, subscription_id: str, *, now: datetime, lease_until: datetime, token: str, limit: int, exclude: frozenset[str] = ...
    ) -> list[dict[str, Any]]: ...
    async def record(self, delivery_updates: list[tuple[str, dict[str, Any]]], attempts: list[dict[str, Any]]) -> None: ...
    async def pause_pending(self, subscription_id: str) -> None: ...


class SubscriptionCache:
    """Enabled subscriptions of every workspace, re-read at most every ``ttl_s`` (changes made through
    this process invalidate it at once; other replicas see them within ``ttl_s``)."""

    def __init__(self, load: Callable[[], Awaitable[list[dict[str, Any]]]], *, ttl_s: float = 1.0) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._by_id: dict[str, dict[str, Any]] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    async def _fresh(self) -> dict[str, dict[str, Any]]:
        if time.monotonic() - self._loaded_at > self._ttl_s:
            async with self._lock:
                if time.monotonic() - self._loaded_at > self._ttl_s:
                    self._by_id = {s["_id"]: s for s in await self._load()}
                    self._loaded_at = time.monotonic()
        return self._by_id

    async def snapshot(self) -> Callable[[str | None, str], list[dict[str, Any]]]:
        """A lookup (workspace, webhook type) → enabled subscriptions, over the current cache."""
        by_key: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
        for subscription in (await self._fresh()).values():
            for webhook_type in subscription["event_types"]:
                by_key.setdefault((subscription["workspace"], webhook_type), []).append(subscription)
        return lambda workspace, webhook_type: by_key.get((workspace, webhook_type), [])

    async def enabled(self, subscription_id: str) -> dict[str, Any] | None:
        return (await self._fresh()).get(subscription_id)

    async def all(self) -> list[dict[str, Any]]:
        return list((await self._fresh()).values())


@dataclass
class Lane:
    queue: asyncio.Queue[dict[str, Any]]
    workers: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def room(self) -> int:
        return self.queue.maxsize - self.queue.qsize()


@dataclass(frozen=True, slots=True)
class DispatchOptions:
    schedule: RetrySchedule = RetrySchedule()
    allow_private: bool = False
    concurrency: int = 4
    queue_per_worker: int = 64
    poll_s: float = 1.0
    lease_s: float = 120.0
    flush_s: float = 0.1
    address_cache_s: float = 10.0


class WebhookDispatcher:
    def __init__(
        self, *, subscriptions: SubscriptionStore, deliveries: DeliveryLog, cache: SubscriptionCache, sender: Sender, options: DispatchOptions
    ) -> None:
        self._subs = subscriptions
        self._deliveries = deliveries
        self._cache = cache
        self._sender = sender
        self._options = options
        self._lanes: dict[str, Lane] = {}
        self._held: set[str] = set()  # queued, in flight, or waiting for the writer: never claimed twice here
        self._results: list[tuple[dict[str, Any], AttemptResult]] = []
        self._marks: list[tuple[str, dict[str, Any]]] = []
        self._flush = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._refusals: dict[str, tuple[float, str | None]] = {}

    # ------------------------------------------------------------------ life
    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._poll_forever(), name="webhooks:poll"),
                           asyncio.create_task(self._write_forever(), name="webhooks:write")]

    async def stop(self) -> None:
        tasks = self._tasks + [w for lane in self._lanes.values() for w in lane.workers]
        self._tasks, self._lanes = [], {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):  # what was sent is recorded; the rest is re-claimed after its lease
            await self._write_once()

    # ------------------------------------------------------------------ intake
    def admit(self, deliveries: list[dict[str, Any]], *, now: datetime) -> set[str]:
        """Which fresh deliveries the lanes can take now; the others get ``due_at = now`` before they are
        stored, so the retry poller picks them up when their lane has room (no extra write)."""
        room = {sid: lane.room for sid, lane in self._lanes.items()}
        admitted: set[str] = set()
        for delivery in deliveries:
            sid = delivery["subscription_id"]
            free = room.get(sid, self._lane_size)
            if free > 0:
                admitted.add(delivery["_id"])
                room[sid] = free - 1
            else:
                delivery["due_at"] = now.timestamp()
        return admitted

    @property
    def _lane_size(self) -> int:
        return self._options.concurrency * self._options.queue_per_worker

    def submit(self, deliveries: list[dict[str, Any]]) -> None:
        """Queue fresh (leased) deliveries on their lanes; a full lane marks them due for the poller."""
        now = datetime.now(UTC)
        for delivery in deliveries:
            if delivery["_id"] in self._held:
                continue
            lane = self._lane(delivery["subscription_id"])
            if lane.room > 0:
                self._held.add(delivery["_id"])
                lane.queue.put_nowait(delivery)
            else:
                self._marks.append((delivery["_id"], {"$set": {"due_at": now.timestamp()}}))
        if self._marks:
            self._flush.set()

    def _lane(self, subscription_id: str) -> Lane:
        lane = self._lanes.get(subscription_id)
        if lane is None:
            lane = Lane(asyncio.Queue(maxsize=self._lane_size))
            lane.workers = [
                asyncio.create_task(self._work(lane), name=f"webhooks:{subscription_id}:{n}") for n in range(self._options.concurrency)
            ]
            self._lanes[subscription_id] = lane
        return lane

    # ------------------------------------------------------------------ sending
    async def _work(self, lane: Lane) -> None:
        while True:
            delivery = await lane.queue.get()
            try:
                await self.deliver(delivery)
            except Exception:  # noqa: BLE001 - one bad delivery never ends a lane; its lease brings it back
                log.exception("webhook delivery %s failed unexpectedly", delivery.get("_id"))
                self._held.discard(delivery["_id"])

    async def deliver(self, delivery: dict[str, Any]) -> None:
        subscription = await self._cache.enabled(delivery["subscription_id"])
        if subscription is None:  # disabled or deleted meanwhile: park what waits for it
            self._held.discard(delivery["_id"])
            await self._deliveries.pause_pending(delivery["subscription_id"])
            return
        body = delivery["body"].encode()
        refusal = await self._refusal(subscription["url"])
        if refusal is not None:
            outcome = SendOutcome(None, 0.0, "", refusal)
        else:
            headers = signature_headers(subscription["secret"], delivery["event_id"], int(time.time()), body)
            outcome = await self._sender.send(subscription["url"], headers, body)
            DELIVERY_LATENCY.observe(outcome.latency_ms / 1000)
        result = attempt_result(delivery, outcome, schedule=self._options.schedule, now=datetime.now(UTC))
        DELIVERY_ATTEMPTS.labels(result.state).inc()
        self._results.append((delivery, result))
        self._flush.set()
        if result.state == "failed":
            await self._disable(subscription, delivery, outcome)

    async def _disable(self, subscription: dict[str, Any], delivery: dict[str, Any], outcome: SendOutcome) -> None:
        span_h = self._options.schedule.total_span_s() / 3600
        reason = f"delivery {delivery['event_id']} failed {delivery.get('attempts', 0) + 1} attempts over {span_h:.1f} h (last: {outcome.error})"
        await self._subs.disable(subscription["_id"], reason=reason[:500], at=datetime.now(UTC))
        self._cache.invalidate()
        SUBSCRIPTIONS_DISABLED.inc()
        log.warning("webhook subscription %s disabled: %s", subscription["_id"], reason)

    async def _refusal(self, url: str) -> str | None:
        cached = self._refusals.get(url)
        if cached is not None and time.monotonic() - cached[0] < self._options.address_cache_s:
            return cached[1]
        reason = await refusal_reason(url, allow_private=self._options.allow_private)
        self._refusals[url] = (time.monotonic(), reason)
        return reason

    # ------------------------------------------------------------------ recording
    async def _write_forever(self) -> None:
        while True:
            await self._flush.wait()
            self._flush.clear()
            try:
                await self._write_once()
            except Exception as error:  # noqa: BLE001 - MongoDB away: keep the batch and try again
                log.warning("webhook results not recorded yet: %r", error)
                await asyncio.sleep(1.0)
                self._flush.set()
                continue
            await asyncio.sleep(self._options.flush_s)  # gather the next batch

    async def _write_once(self) -> None:
        results, self._results = self._results, []
        marks, self._marks = self._marks, []
        if not results and not marks:
            return
        try:
            updates = marks + [(d["_id"], r.delivery_update) for d, r in results]
            # a successful attempt is on its delivery (last_*): only failed ones get a log document
            await self._deliveries.record(updates, [r.attempt for _, r in results if r.state != "delivered"])
            await self._subs.record_health(health_updates([(d["subscription_id"], r) for d, r in results]))
        except BaseException:
            self._results = results + self._results
            self._marks = marks + self._marks
            raise
        for delivery, _ in results:
            self._held.discard(delivery["_id"])

    # ------------------------------------------------------------------ retries
    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._options.poll_s)
            try:
                await self.claim_due()
            except Exception as error:  # noqa: BLE001
                log.warning("webhook retry poll failed: %r", error)

    async def claim_due(self) -> int:
        """Claim due deliveries of every enabled subscription whose lane has room; returns how many."""
        claimed = 0
        now = datetime.now(UTC)
        lease_until = now + timedelta(seconds=self._options.lease_s)
        for subscription in await self._cache.all():
            lane = self._lane(subscription["_id"])
            if lane.room <= 0:
                continue
            token = uuid.uuid4().hex
            due = await self._deliveries.claim_due(
                subscription["_id"], now=now, lease_until=lease_until, token=token, limit=lane.room, exclude=frozenset(self._held)
            )
            fresh = [d for d in due if d["_id"] not in self._held]
            taken = fresh[: max(lane.room, 0)]
            for delivery in taken:
                self._held.add(delivery["_id"])
                lane.queue.put_nowait(delivery)
            for delivery in fresh[len(taken):]:  # the lane filled up meanwhile: hand the claim back at once
                self._marks.append((delivery["_id"], {"$set": {"due_at": now.timestamp()}, "$unset": {"claim": ""}}))
                self._flush.set()
            claimed += len(taken)
        return claimed
