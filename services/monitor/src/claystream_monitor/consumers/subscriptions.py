"""Which events the monitor consumes.  Predictions get their own runner (high volume, batch handler,
idempotent by event id in the engine and natural keys in storage, so no per-event Mongo fence)."""

from __future__ import annotations

from functools import partial

from claystream_common.kafka.consumer import Subscription
from claystream_common.ports import EventPublisher

from claystream_monitor.consumers.handlers import on_dataset_deleted, on_feedback_logged, on_predictions_logged, on_promoted, on_trained
from claystream_monitor.services.engine import MonitorEngine
from claystream_monitor.services.ports import DatasetDirectory, JoinIndex, MonitorStore
from claystream_monitor.services.predictions import PredictionPorts


def prediction_subscriptions(*, ports: PredictionPorts) -> list[Subscription]:
    return [Subscription("prediction.logged", batch_handler=partial(on_predictions_logged, ports=ports))]


def other_subscriptions(
    *, engine: MonitorEngine, store: MonitorStore, join: JoinIndex, publisher: EventPublisher, bucket_s: int,
    reference_source: str, directory: DatasetDirectory,
) -> list[Subscription]:
    return [
        Subscription(
            "feedback.logged",
            batch_handler=partial(on_feedback_logged, engine=engine, store=store, join=join, publisher=publisher, bucket_s=bucket_s,
                                  directory=directory),
        ),
        Subscription("model.promoted", handler=partial(on_promoted, engine=engine, store=store, reference_source=reference_source,
                                                  directory=directory)),
        Subscription("model.trained", handler=partial(on_trained, store=store, directory=directory)),
        Subscription("dataset.deleted", handler=partial(on_dataset_deleted, engine=engine, store=store, join=join,
                                                        directory=directory)),
    ]
