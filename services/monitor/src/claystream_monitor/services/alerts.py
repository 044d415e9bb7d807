"""Turn window evaluations into stored history, Prometheus series and drift events.

Every evaluation and every alert has a deterministic name: the model, the monitor's ``run_id`` and the
evaluation's index (plus the check and the transition for an alert and its drift event).  The use cases
write them before the checkpoint that says their events were counted, so a batch retried after a failure
(or a crash) anywhere in between writes and publishes the same ones again: stored once by name
(``claystream_common.mongo.insert_new``), absorbed by the consumers' event-id fences.  Nothing an evaluation concluded can be lost behind the fence.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

from claystream_common.events import DriftChanged, Envelope, new_event
from claystream_common.ports import EventPublisher

from claystream_monitor.drift.hysteresis import Transition
from claystream_monitor.drift.monitor import Evaluation
from claystream_monitor.metrics import (
    DRIFT_ALERTING,
    DRIFT_P_VALUE,
    DRIFT_SCORE,
    DRIFT_THRESHOLD,
    DRIFT_TRANSITIONS,
    MODEL_LABEL,
    WINDOWS_EVALUATED,
)
from claystream_monitor.services.ports import ModelKey, MonitorStore

EVENT_TYPE = {Transition.DETECTED: "drift.detected", Transition.RESOLVED: "drift.resolved"}
DRIFT_EVENT_NAMESPACE = uuid.UUID("6f1d8a4e-2c3b-4f5a-9e7d-1b2c3d4e5f60")


def evaluation_id(key: ModelKey, evaluation: Evaluation) -> str:
    return f"{key.id}|{evaluation.run_id}|{evaluation.index}"


def drift_event_id(key: ModelKey, evaluation: Evaluation, check: str, transition: Transition) -> uuid.UUID:
    return uuid.uuid5(DRIFT_EVENT_NAMESPACE, f"{evaluation_id(key, evaluation)}|{check}|{transition.value}")


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def evaluation_document(key: ModelKey, evaluation: Evaluation, *, at: datetime) -> dict[str, Any]:
    return {
        "_id": evaluation_id(key, evaluation),
        **key.as_dict(),
        "model_key": key.id,
        "kind": evaluation.kind,
        "index": evaluation.index,
        "events_seen": evaluation.events_seen,
        "window_size": evaluation.window_size,
        "at": at,
        "results": [
            {
                "check": r.check,
                "statistic": _finite(r.statistic),
                "threshold": _finite(r.threshold),
                "p_value": _finite(r.p_value),
                "breached": r.breached,
            }
            for r in evaluation.results
        ],
        "summary": evaluation.summary,
        "alerting": evaluation.alerting,
    }


def record_gauges(key: ModelKey, evaluation: Evaluation) -> None:
    WINDOWS_EVALUATED.labels(MODEL_LABEL(key.model), evaluation.kind).inc()
    alerting = set(evaluation.alerting)
    for result in evaluation.results:
        DRIFT_SCORE.labels(MODEL_LABEL(key.model), result.check).set(result.statistic)
        DRIFT_THRESHOLD.labels(MODEL_LABEL(key.model), result.check).set(result.threshold)
        if result.p_value is not None:
            DRIFT_P_VALUE.labels(MODEL_LABEL(key.model), result.check).set(result.p_value)
        DRIFT_ALERTING.labels(MODEL_LABEL(key.model), result.check).set(1 if result.check in alerting else 0)


def drift_events(key: ModelKey, evaluation: Evaluation, *, at: datetime) -> tuple[list[Envelope[Any]], list[dict[str, Any]]]:
    """The drift.detected / drift.resolved events an evaluation caused, and their history documents."""
    events: list[Envelope[Any]] = []
    alerts: list[dict[str, Any]] = []
    window = {"kind": evaluation.kind, "index": evaluation.index, "events_seen": evaluation.events_seen,
              "size": evaluation.window_size}
    for transition, result in evaluation.transitions:
        DRIFT_TRANSITIONS.labels(MODEL_LABEL(key.model), result.check, transition.value).inc()
        evidence = {**result.evidence, "summary": evaluation.summary, "alerting": evaluation.alerting}
        payload = DriftChanged(
            model=key.model,
            model_version=key.version,
            check=result.check,
            statistic=_finite(result.statistic) or 0.0,
            threshold=_finite(result.threshold) or 0.0,
            p_value=_finite(result.p_value),
            window=window,
            evidence=evidence,
        )
        events.append(new_event(EVENT_TYPE[transition], payload, dataset=key.model, workspace=key.workspace,
                                event_id=drift_event_id(key, evaluation, result.check, transition)))
        alerts.append({
            **key.as_dict(),
            "model_key": key.id,
            "transition": transition.value,
            "check": result.check,
            "statistic": payload.statistic,
            "threshold": payload.threshold,
            "p_value": payload.p_value,
            "window": window,
            "evidence": evidence,
            "event_id": str(events[-1].event_id),
            "at": at,
        })
    return events, alerts


async def publish_drift(events: list[Envelope[Any]], *, publisher: EventPublisher) -> None:
    if events:
        await publisher.publish_many(events, keys=[e.data.model for e in events])


async def record_evaluations(key: ModelKey, evaluations: list[Evaluation], *, at: datetime, store: MonitorStore,
                             publisher: EventPublisher, states: dict[str, Any] | None) -> None:
    """Gauges, the evaluation history, the alert states and history, then the drift events (idempotent:
    see the module docstring); the use cases call it before their checkpoint."""
    if not evaluations:
        return
    events: list[Envelope[Any]] = []
    alert_documents: list[dict[str, Any]] = []
    for evaluation in evaluations:
        record_gauges(key, evaluation)
        produced, documents = drift_events(key, evaluation, at=at)
        events.extend(produced)
        alert_documents.extend(documents)
    await store.store_evaluations(key, [evaluation_document(key, e, at=at) for e in evaluations])
    if states is not None:
        await store.save_alert_states(key, states)
    if alert_documents:
        await store.store_alerts(alert_documents)
    await publish_drift(events, publisher=publisher)


def now() -> datetime:
    return datetime.now(UTC)
