"""Turn window evaluations into stored history, Prometheus series and drift events."""

from __future__ import annotations

import math
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
from claystream_monitor.services.ports import ModelKey

EVENT_TYPE = {Transition.DETECTED: "drift.detected", Transition.RESOLVED: "drift.resolved"}


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def evaluation_document(key: ModelKey, evaluation: Evaluation, *, at: datetime) -> dict[str, Any]:
    return {
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
        events.append(new_event(EVENT_TYPE[transition], payload, dataset=key.model, workspace=key.workspace))
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


def now() -> datetime:
    return datetime.now(UTC)
