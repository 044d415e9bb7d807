"""Which events the annotate service consumes, wired to their handlers."""

from __future__ import annotations

from functools import partial

from claystream_common.kafka.consumer import Subscription

from claystream_annotate.consumers.webhooks import on_events_for_webhooks
from claystream_annotate.services.webhook_delivery import DeliveryStore, Dispatch, SubscriptionIndex
from claystream_annotate.services.webhook_events import SOURCES
from claystream_annotate.consumers.handlers import (
    CounterWriter,
    DatasetLookup,
    ModelEventWriter,
    QueueWriter,
    RecordStore,
    VectorSink,
    on_model_event,
    on_records_ingested,
    on_suggestions_created,
)

MODEL_EVENTS = ("training.started", "training.progress", "model.trained", "model.promoted", "training.failed")


def subscriptions(
    *, records: RecordStore, datasets: DatasetLookup, queue: QueueWriter, counters: CounterWriter, model_events: ModelEventWriter,
    vectors: VectorSink | None = None,
) -> list[Subscription]:
    # Both batch handlers are idempotent by record id (an insert keyed by _id that queues and counts only
    # what was new; a $set of the suggestion and its queue score), so they run unfenced: the fence would
    # double the MongoDB writes of the records path (docs/PERFORMANCE.md).
    subs = [
        Subscription(
            "record.ingested",
            batch_handler=partial(on_records_ingested, records=records, datasets=datasets, queue=queue, counters=counters,
                                  vectors=vectors),
            fenced=False,
        ),
        Subscription(
            "suggestion.created",
            batch_handler=partial(on_suggestions_created, records=records, datasets=datasets, queue=queue),
            fenced=False,
        ),
    ]
    subs.extend(
        Subscription(event_type, handler=partial(on_model_event, model_events=model_events, datasets=datasets))
        for event_type in MODEL_EVENTS
    )
    return subs


def webhook_subscriptions(*, subscriptions: SubscriptionIndex, deliveries: DeliveryStore, dispatch: Dispatch, lease_s: float) -> list[Subscription]:
    """Every event type some webhook type comes from (see ``services/webhook_events.SOURCES``)."""
    handler = partial(on_events_for_webhooks, subscriptions=subscriptions, deliveries=deliveries, dispatch=dispatch, lease_s=lease_s)
    return [Subscription(event_type, batch_handler=handler) for event_type in SOURCES]
