"""Use case: the trainer's model events → which version is champion, and its reference."""

from __future__ import annotations

from typing import Any

from claystream_common.events import Envelope, ModelPromoted, ModelTrained

from claystream_monitor.services import alerts as alerting
from claystream_monitor.services.engine import MonitorEngine
from claystream_monitor.services.ports import ModelKey, MonitorStore


async def on_model_promoted(
    event: Envelope[ModelPromoted], *, engine: MonitorEngine, store: MonitorStore, reference_source: str
) -> None:
    """Remember the champion; with ``reference_source=validation`` its validation metrics become the
    accuracy reference (the first window after promotion remains the reference for input checks)."""
    model = event.dataset or "unknown"
    key = ModelKey(event.workspace, model, event.data.model_version)
    fields: dict[str, Any] = {
        "champion": True,
        "promoted_at": event.occurred_at,
        "previous_version": event.data.previous_version,
        "labels": list(event.data.labels),
        "metrics": dict(event.data.metrics),
        "last_event_at": alerting.now(),
    }
    if reference_source == "validation":
        fields["validation_metrics"] = dict(event.data.metrics)
    await store.register_model(key, fields)
    if event.data.previous_version:
        await store.register_model(ModelKey(event.workspace, model, event.data.previous_version), {"champion": False})
    engine.forget(key)  # re-read with the new metrics on next use


async def on_model_trained(event: Envelope[ModelTrained], *, store: MonitorStore) -> None:
    key = ModelKey(event.workspace, event.dataset or "unknown", event.data.model_version)
    await store.register_model(key, {"trained_metrics": dict(event.data.metrics), "trained_at": event.occurred_at})
