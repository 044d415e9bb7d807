"""Webhook subscription use cases (workspace admins): create, list, change, delete, send a test event,
replay a delivery, read the delivery log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from claystream_annotate.services.errors import Conflict, Invalid, NotFound
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.webhook_delivery import new_delivery, replay_of, stamp
from claystream_annotate.services.webhook_events import TEST_EVENT_TYPE, WEBHOOK_EVENT_TYPES, unknown_types
from claystream_annotate.services.webhook_payloads import FORMATS, encode_body, generate_secret, standard_body
from claystream_annotate.services.webhook_targets import check_target

MIN_SECRET_LENGTH = 16
PUBLIC_FIELDS = (
    "workspace", "url", "event_types", "format", "description", "enabled", "disabled_reason", "disabled_at",
    "consecutive_failures", "last_success_at", "last_failure_at", "last_failure", "created_at", "updated_at",
)


class WebhookSubscriptions(Protocol):
    async def insert(self, document: dict[str, Any]) -> None: ...
    async def get(self, subscription_id: str) -> dict[str, Any] | None: ...
    async def list(self, workspace: str) -> list[dict[str, Any]]: ...
    async def update(self, subscription_id: str, changes: dict[str, Any]) -> dict[str, Any] | None: ...
    async def delete(self, subscription_id: str) -> bool: ...


class WebhookDeliveries(Protocol):
    async def insert_new(self, documents: list[dict[str, Any]]) -> list[dict[str, Any]]: ...
    async def get(self, delivery_id: str) -> dict[str, Any] | None: ...
    async def recent(self, subscription_id: str, limit: int = 50) -> list[dict[str, Any]]: ...
    async def attempts(self, delivery_id: str) -> list[dict[str, Any]]: ...
    async def resume_paused(self, subscription_id: str, *, now: datetime) -> None: ...
    async def pause_pending(self, subscription_id: str) -> None: ...
    async def delete_for(self, subscription_id: str) -> None: ...


class Dispatch(Protocol):
    def submit(self, deliveries: list[dict[str, Any]]) -> None: ...


def public(subscription: dict[str, Any], *, with_secret: bool = False) -> dict[str, Any]:
    out = {"id": subscription["_id"], **{k: subscription.get(k) for k in PUBLIC_FIELDS}}
    out["enabled"] = bool(out["enabled"])  # nx-27017 stores a boolean written by $set as 1 / 0
    if with_secret:
        out["secret"] = subscription["secret"]
    return out


def _event_types(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise Invalid("event_types", f"a non-empty list of event types, from: {', '.join(WEBHOOK_EVENT_TYPES)}")
    unknown = unknown_types(value)
    if unknown:
        raise Invalid("event_types", f"unknown event type {unknown[0]!r}; known: {', '.join(WEBHOOK_EVENT_TYPES)}")
    return sorted(set(value))


def _format(value: Any) -> str:
    if value not in FORMATS:
        raise Invalid("format", f"must be one of {', '.join(FORMATS)}")
    return str(value)


def _secret(value: Any) -> str:
    if value is None or value == "":
        return generate_secret()
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH or len(value) > 200:
        raise Invalid("secret", f"between {MIN_SECRET_LENGTH} and 200 characters (leave it out to get a generated one)")
    return value


def _description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 500:
        raise Invalid("description", "text of at most 500 characters")
    return value


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("enabled", "must be true or false")
    return value


MAX_SUBSCRIPTIONS = 50  # per workspace: the dispatcher polls every enabled subscription each second


async def create_subscription(
    body: dict[str, Any], *, actor: Principal, workspace: str, subscriptions: WebhookSubscriptions, allow_private: bool
) -> dict[str, Any]:
    actor.require(workspace, Role.ADMIN)
    if len(await subscriptions.list(workspace)) >= MAX_SUBSCRIPTIONS:
        raise Conflict(f"workspace {workspace} has {MAX_SUBSCRIPTIONS} webhook subscriptions already (the most it may "
                       "have: each is polled for due deliveries); delete one, or subscribe one URL to more event types")
    url = await check_target(str(body.get("url") or ""), allow_private=allow_private)
    now = datetime.now(UTC)
    document = {
        "_id": f"wh_{uuid.uuid4().hex[:20]}",
        "workspace": workspace,
        "url": url,
        "dedupe_key": f"{workspace} {url}",
        "event_types": _event_types(body.get("event_types")),
        "format": _format(body.get("format", "standard")),
        "description": _description(body.get("description", "")),
        "secret": _secret(body.get("secret")),
        "enabled": _enabled(body.get("enabled", True)),
        "disabled_reason": None,
        "consecutive_failures": 0,
        "created_at": stamp(now),
        "updated_at": stamp(now),
        "created_by": actor.username,
    }
    await subscriptions.insert(document)
    return document


async def get_subscription(subscription_id: str, *, actor: Principal, workspace: str, subscriptions: WebhookSubscriptions) -> dict[str, Any]:
    actor.require(workspace, Role.ADMIN)
    document = await subscriptions.get(subscription_id)
    if document is None or document["workspace"] != workspace:
        raise NotFound(f"webhook subscription {subscription_id} not found")
    return document


async def list_subscriptions(*, actor: Principal, workspace: str, subscriptions: WebhookSubscriptions) -> list[dict[str, Any]]:
    actor.require(workspace, Role.ADMIN)
    return await subscriptions.list(workspace)


async def update_subscription(
    subscription_id: str, changes: dict[str, Any], *, actor: Principal, workspace: str, subscriptions: WebhookSubscriptions,
    deliveries: WebhookDeliveries, allow_private: bool,
) -> dict[str, Any]:
    """Change url / event_types / format / description / secret / enabled.  Enabling again clears the
    disabled reason and resumes the deliveries that were paused meanwhile."""
    current = await get_subscription(subscription_id, actor=actor, workspace=workspace, subscriptions=subscriptions)
    unknown = sorted(set(changes) - {"url", "event_types", "format", "description", "secret", "enabled"})
    if unknown:
        raise Invalid(unknown[0], "not a field that can be changed")
    now = datetime.now(UTC)
    update: dict[str, Any] = {"updated_at": stamp(now)}
    if "url" in changes:
        update["url"] = await check_target(str(changes["url"] or ""), allow_private=allow_private)
        update["dedupe_key"] = f"{workspace} {update['url']}"
    if "event_types" in changes:
        update["event_types"] = _event_types(changes["event_types"])
    if "format" in changes:
        update["format"] = _format(changes["format"])
    if "description" in changes:
        update["description"] = _description(changes["description"])
    if "secret" in changes:
        update["secret"] = _secret(changes["secret"])
    if "enabled" in changes:
        update["enabled"] = _enabled(changes["enabled"])
        if update["enabled"]:
            update |= {"disabled_reason": None, "disabled_at": None, "consecutive_failures": 0}
    saved = await subscriptions.update(subscription_id, update)
    assert saved is not None
    if update.get("enabled") is True and not current.get("enabled"):
        await deliveries.resume_paused(subscription_id, now=now)
    elif update.get("enabled") is False:
        await deliveries.pause_pending(subscription_id)
    return saved


async def delete_subscription(
    subscription_id: str, *, actor: Principal, workspace: str, subscriptions: WebhookSubscriptions, deliveries: WebhookDeliveries
) -> None:
    await get_subscription(subscription_id, actor=actor, workspace=workspace, subscriptions=subscriptions)
    await subscriptions.delete(subscription_id)
    await deliveries.delete_for(subscription_id)


async def send_test_event(
    subscription_id: str, *, actor: Principal, workspace: str, subscriptions: WebhookSubscriptions, deliveries: WebhookDeliveries,
    dispatch: Dispatch, lease_s: float,
) -> dict[str, Any]:
    """A ``webhook.test`` delivery through the same path as real events (signed, logged, retried)."""
    subscription = await get_subscription(subscription_id, actor=actor, workspace=workspace, subscriptions=subscriptions)
    if not subscription.get("enabled"):
        raise Invalid("enabled", "the subscription is disabled; enable it before sending a test event")
    now = datetime.now(UTC)
    event_id = str(uuid.uuid4())
    body = standard_body(
        event_id=event_id, webhook_type=TEST_EVENT_TYPE, occurred_at=now, workspace=workspace, dataset=None,
        data={"message": "Test event from Claystream", "subscription_id": subscription_id, "sent_by": actor.username},
    )
    delivery = new_delivery(
        subscription, event_id=event_id, webhook_type=TEST_EVENT_TYPE, body=encode_body(body, subscription.get("format", "standard")),
        published_at=now, now=now, due_at=now + timedelta(seconds=lease_s),
    )
    dispatch.submit(await deliveries.insert_new([delivery]))
    return delivery


async def replay_delivery(
    subscription_id: str, delivery_id: str, *, actor: Principal, workspace: str, subscriptions: WebhookSubscriptions,
    deliveries: WebhookDeliveries, dispatch: Dispatch, lease_s: float,
) -> dict[str, Any]:
    """Send one delivery again as a new delivery (same body and ``webhook-id``)."""
    subscription = await get_subscription(subscription_id, actor=actor, workspace=workspace, subscriptions=subscriptions)
    original = await deliveries.get(delivery_id)
    if original is None or original["subscription_id"] != subscription_id:
        raise NotFound(f"delivery {delivery_id} not found")
    if not subscription.get("enabled"):
        raise Invalid("enabled", "the subscription is disabled; enable it before replaying")
    now = datetime.now(UTC)
    again = replay_of(original, subscription, now=now) | {"due_at": now.timestamp() + lease_s}
    dispatch.submit(await deliveries.insert_new([again]))
    return again


async def delivery_log(
    subscription_id: str, *, actor: Principal, workspace: str, subscriptions: WebhookSubscriptions, deliveries: WebhookDeliveries, limit: int = 50
) -> list[dict[str, Any]]:
    await get_subscription(subscription_id, actor=actor, workspace=workspace, subscriptions=subscriptions)
    return await deliveries.recent(subscription_id, limit=max(1, min(limit, 500)))


async def delivery_detail(
    subscription_id: str, delivery_id: str, *, actor: Principal, workspace: str, subscriptions: WebhookSubscriptions, deliveries: WebhookDeliveries
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    await get_subscription(subscription_id, actor=actor, workspace=workspace, subscriptions=subscriptions)
    delivery = await deliveries.get(delivery_id)
    if delivery is None or delivery["subscription_id"] != subscription_id:
        raise NotFound(f"delivery {delivery_id} not found")
    attempts = await deliveries.attempts(delivery_id)
    if delivery.get("status") == "delivered" and all(a["attempt"] != delivery["attempts"] for a in attempts):
        attempts.append({  # the successful attempt is kept on the delivery itself (one write fewer per delivery)
            "attempt": delivery["attempts"], "at": delivery.get("last_attempt_at"), "status_code": delivery.get("last_status_code"),
            "latency_ms": delivery.get("last_latency_ms"), "response_excerpt": delivery.get("last_response_excerpt"), "error": None,
        })
    return delivery, attempts
