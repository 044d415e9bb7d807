"""Plain handler coroutines: validated envelopes in, use cases out (no aiokafka types here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from claystream_common.errors import PermanentError
from claystream_common.events import DatasetDeleted, Envelope, FeedbackLogged, ModelPromoted, ModelTrained, PredictionLogged
from claystream_common.ports import EventPublisher

from claystream_monitor.services.dataset_cleanup import drop_dataset
from claystream_monitor.services.engine import MonitorEngine
from claystream_monitor.services.feedback import record_feedback
from claystream_monitor.services.models import on_model_promoted, on_model_trained
from claystream_monitor.services.ports import DatasetDirectory, JoinIndex, MonitorStore
from claystream_monitor.services.predictions import PredictionPorts, record_predictions


async def require_known_datasets(events: Sequence[Envelope[Any]], directory: DatasetDirectory) -> None:
    """Events that name a dataset nobody created are poison (DLQ).  Production traffic for a model
    without an annotation dataset carries no dataset and is accepted."""
    for workspace, dataset in {(e.workspace, e.dataset) for e in events if e.dataset}:
        if not await directory.exists(workspace, dataset):
            raise PermanentError(f"unknown dataset {workspace}/{dataset}")


async def on_predictions_logged(events: list[Envelope[PredictionLogged]], *, ports: PredictionPorts) -> None:
    await require_known_datasets(events, ports.directory)
    await record_predictions(events, ports=ports)


async def on_feedback_logged(
    events: list[Envelope[FeedbackLogged]], *, engine: MonitorEngine, store: MonitorStore, join: JoinIndex,
    publisher: EventPublisher, bucket_s: int, directory: DatasetDirectory,
) -> None:
    await require_known_datasets(events, directory)
    await record_feedback(events, engine=engine, store=store, join=join, publisher=publisher, bucket_s=bucket_s)


async def on_promoted(
    event: Envelope[ModelPromoted], *, engine: MonitorEngine, store: MonitorStore, reference_source: str,
    directory: DatasetDirectory,
) -> None:
    await require_known_datasets([event], directory)
    await on_model_promoted(event, engine=engine, store=store, reference_source=reference_source)


async def on_trained(event: Envelope[ModelTrained], *, store: MonitorStore, directory: DatasetDirectory) -> None:
    await require_known_datasets([event], directory)
    await on_model_trained(event, store=store)


async def on_dataset_deleted(event: Envelope[DatasetDeleted], *, engine: MonitorEngine, store: MonitorStore, join: JoinIndex,
                             directory: DatasetDirectory) -> None:
    if event.dataset:
        await drop_dataset(event.workspace, event.dataset, engine=engine, store=store, join=join, directory=directory)
