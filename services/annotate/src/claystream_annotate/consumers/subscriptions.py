"""Which events the annotate service consumes, wired to their handlers."""

from __future__ import annotations

from functools import partial

from claystream_common.kafka.consumer import Subscription

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
    subs = [
        Subscription(
            "record.ingested",
            batch_handler=partial(on_records_ingested, records=records, datasets=datasets, queue=queue, counters=counters,
                                  vectors=vectors),
        ),
        Subscription("suggestion.created", batch_handler=partial(on_suggestions_created, records=records, datasets=datasets, queue=queue)),
    ]
    subs.extend(
        Subscription(event_type, handler=partial(on_model_event, model_events=model_events, datasets=datasets))
        for event_type in MODEL_EVENTS
    )
    return subs
