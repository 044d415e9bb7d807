"""Plain handler coroutines: validated envelopes in, use cases out (no aiokafka types here)."""

from __future__ import annotations

from claystream_common.events import Envelope, FeedbackLogged, ModelPromoted, ModelTrained, PredictionLogged
from claystream_common.ports import EventPublisher

from claystream_monitor.services.engine import MonitorEngine
from claystream_monitor.services.feedback import record_feedback
from claystream_monitor.services.models import on_model_promoted, on_model_trained
from claystream_monitor.services.ports import JoinIndex, MonitorStore
from claystream_monitor.services.predictions import PredictionPorts, record_predictions


async def on_predictions_logged(events: list[Envelope[PredictionLogged]], *, ports: PredictionPorts) -> None:
    await record_predictions(events, ports=ports)


async def on_feedback_logged(
    events: list[Envelope[FeedbackLogged]], *, engine: MonitorEngine, store: MonitorStore, join: JoinIndex,
    publisher: EventPublisher, bucket_s: int,
) -> None:
    await record_feedback(events, engine=engine, store=store, join=join, publisher=publisher, bucket_s=bucket_s)


async def on_promoted(event: Envelope[ModelPromoted], *, engine: MonitorEngine, store: MonitorStore, reference_source: str) -> None:
    await on_model_promoted(event, engine=engine, store=store, reference_source=reference_source)


async def on_trained(event: Envelope[ModelTrained], *, store: MonitorStore) -> None:
    await on_model_trained(event, store=store)
