"""Webhook delivery rules: which deliveries an event makes, what one attempt's outcome changes, and the
retry schedule (exponential backoff over about a day, then the delivery fails and its subscription
is disabled).  No I/O here: the dispatcher and the consumer handler call these with their ports."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from claystream_common.events import Envelope

from claystream_annotate.services.webhook_events import webhook_type_for
from claystream_annotate.services.webhook_payloads import encode_body, standard_body


@dataclass(frozen=True, slots=True)
class SendOutcome:
    status_code: int | None
    latency_ms: float
    excerpt: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    initial_s: float = 5.0
    factor: float = 4.0
    max_delay_s: float = 6 * 3600.0
    max_attempts: int = 11
    jitter: float = 0.1

    def delay_after(self, attempts: int, rng: random.Random | None = None) -> float | None:
        """Seconds until the next attempt after ``attempts`` failed ones; None when they are used up."""
        if attempts >= self.max_attempts:
            return None
        base = min(self.initial_s * self.factor ** (attempts - 1), self.max_delay_s)
        spread = (rng or random).uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return base * (1 + spread)

    def total_span_s(self) -> float:
        return sum(min(self.initial_s * self.factor ** (n - 1), self.max_delay_s) for n in range(1, self.max_attempts))


class SubscriptionIndex(Protocol):
    async def snapshot(self) -> Callable[[str | None, str], list[dict[str, Any]]]: ...


class Dispatch(Protocol):
    def admit(self, deliveries: list[dict[str, Any]], *, now: datetime) -> set[str]: ...
    def submit(self, deliveries: list[dict[str, Any]]) -> None: ...


class DeliveryStore(Protocol):
    async def insert_new(self, documents: list[dict[str, Any]]) -> list[dict[str, Any]]: ...


def stamp(moment: datetime) -> str:
    """Times are stored as ISO strings and due times as epoch seconds: nx-27017 turns a datetime
    written by ``$set`` into a string, which would break comparisons (inserts keep them)."""
    return moment.astimezone(UTC).isoformat()


def delivery_id(subscription_id: str, event_id: str) -> str:
    return f"{subscription_id}:{event_id}"


def new_delivery(
    subscription: dict[str, Any], *, event_id: str, webhook_type: str, body: str, published_at: datetime | str, now: datetime, due_at: datetime,
    replay_of: str | None = None, suffix: str = "",
) -> dict[str, Any]:
    return {
        "_id": delivery_id(subscription["_id"], event_id) + suffix,
        "subscription_id": subscription["_id"],
        "workspace": subscription["workspace"],
        "event_id": event_id,
        "type": webhook_type,
        "body": body,
        "status": "pending",
        "pending_for": subscription["_id"],
        "due_at": due_at.timestamp(),
        "attempts": 0,
        "published_at": stamp(published_at) if isinstance(published_at, datetime) else published_at,
        "created_at": stamp(now),
        "replay_of": replay_of,
    }


def deliveries_for(
    events: Iterable[Envelope[Any]], targets_of: Callable[[str | None, str], list[dict[str, Any]]], *, lease_s: float, now: datetime
) -> list[dict[str, Any]]:
    """One delivery per (matching enabled subscription, event), leased for ``lease_s`` (the caller hands
    them to the workers at once; those it cannot take are marked due for the retry poller instead)."""
    documents: list[dict[str, Any]] = []
    for event in events:
        webhook_type = webhook_type_for(event)
        if webhook_type is None:
            continue
        targets = targets_of(event.workspace, webhook_type)
        if not targets:
            continue
        body = standard_body(
            event_id=str(event.event_id), webhook_type=webhook_type, occurred_at=event.occurred_at,
            workspace=event.workspace, dataset=event.dataset, data=event.data.model_dump(mode="json"),
        )
        encoded: dict[str, str] = {}
        for subscription in targets:
            fmt = subscription.get("format", "standard")
            if fmt not in encoded:
                encoded[fmt] = encode_body(body, fmt)
            documents.append(new_delivery(
                subscription, event_id=str(event.event_id), webhook_type=webhook_type, body=encoded[fmt],
                published_at=event.occurred_at, now=now, due_at=now + timedelta(seconds=lease_s),
            ))
    return documents


async def fan_out(
    events: Iterable[Envelope[Any]], *, subscriptions: SubscriptionIndex, deliveries: DeliveryStore, dispatch: Dispatch, lease_s: float,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Store the events' deliveries before their offsets are committed (re-read events find theirs
    already there) and hand the new ones to the workers.  Returns the new ones."""
    now = now or datetime.now(UTC)
    index = await subscriptions.snapshot()
    documents = deliveries_for(events, index, lease_s=lease_s, now=now)
    if not documents:
        return []
    admitted = dispatch.admit(documents, now=now)  # the rest is stored as due now: the poller takes it
    new = await deliveries.insert_new(documents)
    dispatch.submit([d for d in new if d["_id"] in admitted])
    return new


def replay_of(delivery: dict[str, Any], subscription: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """A new delivery of the same message (same webhook-id: receivers deduplicate it if they had it)."""
    return new_delivery(
        subscription, event_id=delivery["event_id"], webhook_type=delivery["type"], body=delivery["body"],
        published_at=delivery["published_at"], now=now, due_at=now, replay_of=delivery["_id"], suffix=f":r{uuid.uuid4().hex[:8]}",
    )


@dataclass(slots=True)
class AttemptResult:
    state: str  # delivered | retry | failed
    delivery_update: dict[str, Any]
    attempt: dict[str, Any]
    health: dict[str, Any] = field(default_factory=dict)


def attempt_result(delivery: dict[str, Any], outcome: SendOutcome, *, schedule: RetrySchedule, now: datetime) -> AttemptResult:
    """What one attempt changes: the delivery (next due time or final status), its attempt log entry,
    and the subscription's health fields."""
    attempts = int(delivery.get("attempts", 0)) + 1
    last = {
        "attempts": attempts,
        "last_attempt_at": stamp(now),
        "last_status_code": outcome.status_code,
        "last_latency_ms": outcome.latency_ms,
        "last_response_excerpt": outcome.excerpt,
        "last_error": outcome.error,
    }
    log_entry = {
        "_id": f"{delivery['_id']}#{attempts}",
        "delivery_id": delivery["_id"],
        "subscription_id": delivery["subscription_id"],
        "attempt": attempts,
        "at": stamp(now),
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
        "response_excerpt": outcome.excerpt,
        "error": outcome.error,
    }
    if outcome.ok:
        update = {"$set": {**last, "status": "delivered", "delivered_at": stamp(now)}, "$unset": {"pending_for": "", "due_at": "", "claim": ""}}
        return AttemptResult("delivered", update, log_entry, {"last_success_at": stamp(now), "consecutive_failures": 0})
    delay = schedule.delay_after(attempts)
    health = {"last_failure_at": stamp(now), "last_failure": outcome.error}
    if delay is None:
        update = {"$set": {**last, "status": "failed"}, "$unset": {"pending_for": "", "due_at": "", "claim": ""}}
        return AttemptResult("failed", update, log_entry, health)
    update = {"$set": {**last, "due_at": now.timestamp() + delay}, "$unset": {"claim": ""}}
    return AttemptResult("retry", update, log_entry, health)


def health_updates(results: list[tuple[str, AttemptResult]]) -> dict[str, dict[str, Any]]:
    """Subscription health over a batch of attempts, one update per subscription (the last attempt's
    timestamps; ``consecutive_failures`` reset by a success, counting the failures after it)."""
    seen: dict[str, tuple[dict[str, Any], bool, int]] = {}
    for subscription_id, result in results:
        fields, reset, failures = seen.get(subscription_id, ({}, False, 0))
        fields = {**fields, **result.health}
        if result.state == "delivered":
            reset, failures = True, 0
        else:
            failures += 1
        seen[subscription_id] = (fields, reset, failures)
    updates: dict[str, dict[str, Any]] = {}
    for subscription_id, (fields, reset, failures) in seen.items():
        fields.pop("consecutive_failures", None)
        if reset:
            updates[subscription_id] = {"$set": {**fields, "consecutive_failures": failures}}
        else:
            updates[subscription_id] = {"$set": fields, "$inc": {"consecutive_failures": failures}}
    return updates
