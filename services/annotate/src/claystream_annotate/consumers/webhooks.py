"""The webhook fan-out handler: every subscribed-to event becomes one stored delivery per matching
subscription, handed to the delivery workers.  It never calls a target itself, so no target can slow
the consumer (it runs in its own consumer group, apart from annotate's own handlers)."""

from __future__ import annotations

from typing import Any

from claystream_common.events import Envelope

from claystream_annotate.services.webhook_delivery import DeliveryStore, Dispatch, SubscriptionIndex, fan_out


async def on_events_for_webhooks(
    events: list[Envelope[Any]], *, subscriptions: SubscriptionIndex, deliveries: DeliveryStore, dispatch: Dispatch, lease_s: float
) -> None:
    await fan_out(events, subscriptions=subscriptions, deliveries=deliveries, dispatch=dispatch, lease_s=lease_s)
