"""Use case: feedback.logged → joined to its prediction (now, or when the prediction arrives) → accuracy windows."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

from claystream_common.events import Envelope, FeedbackLogged
from claystream_common.ports import EventPublisher

from claystream_monitor.metrics import FEEDBACK_SEEN, MODEL_LABEL
from claystream_monitor.services import alerts as alerting
from claystream_monitor.services.engine import MonitorEngine
from claystream_monitor.services.ports import JoinedPrediction, JoinIndex, ModelKey, MonitorStore, ParkedFeedback, RequestRef


def feedback_id(workspace: str | None, model: str | None, request_id: str) -> str:
    """The stored feedback row: one per (workspace, model named by the feedback, request id)."""
    return json.dumps([workspace or "", model or "", request_id], separators=(",", ":"))


def label_key(label: str) -> str:
    """A label as a MongoDB field name (no dots, no leading $)."""
    return label.replace(".", "\uff0e").replace("$", "\uff04")


def feedback_fence_id(request_id: str, feedback: ParkedFeedback) -> str:
    """The same feedback delivered again is counted once; a changed verdict on a request counts anew."""
    return f"fb:{request_id}:{feedback.true_label}:{feedback.signal}"


async def record_feedback(
    events: list[Envelope[FeedbackLogged]], *, engine: MonitorEngine, store: MonitorStore, join: JoinIndex,
    publisher: EventPublisher, bucket_s: int = 60,
) -> None:
    latest: dict[RequestRef, FeedbackLogged] = {}
    for event in events:
        # request ids are only unique within a workspace (and a model, when the feedback names it)
        latest[RequestRef(event.workspace, event.data.request_id, event.data.model)] = event.data  # the last word wins
    predictions = await join.lookup(list(latest))

    def parked(ref: RequestRef, fb: FeedbackLogged) -> ParkedFeedback:
        return ParkedFeedback(ref.request_id, fb.true_label, fb.signal, ref.workspace, ref.model)

    matched = [(predictions[ref], parked(ref, fb)) for ref, fb in latest.items() if ref in predictions]
    unmatched = [parked(ref, fb) for ref, fb in latest.items() if ref not in predictions]
    if unmatched:
        await join.park(unmatched)
        await store.store_feedback([
            {"_id": feedback_id(f.workspace, f.model, f.request_id), "workspace": f.workspace, "request_id": f.request_id,
             "true_label": f.true_label, "signal": f.signal, "matched": False, "at": alerting.now(), "model": f.model}
            for f in unmatched
        ])
        for feedback in unmatched:
            FEEDBACK_SEEN.labels(MODEL_LABEL(feedback.model), "waiting").inc()
    if matched:
        await apply_joined_feedback(matched, engine=engine, store=store, publisher=publisher, bucket_s=bucket_s)


async def apply_joined_feedback(
    pairs: list[tuple[JoinedPrediction, ParkedFeedback]], *, engine: MonitorEngine, store: MonitorStore,
    publisher: EventPublisher, bucket_s: int = 60,
) -> None:
    """Store the joined rows and feed labelled pairs to each model's accuracy window."""
    at = alerting.now()
    documents: list[dict[str, Any]] = []
    by_key: dict[ModelKey, list[tuple[str, str]]] = defaultdict(list)
    fenced: dict[ModelKey, list[tuple[str, ParkedFeedback]]] = defaultdict(list)
    for prediction, feedback in pairs:
        correct = None if feedback.true_label is None else feedback.true_label == prediction.label
        documents.append({
            "_id": feedback_id(prediction.key.workspace, feedback.model, prediction.request_id), **prediction.key.as_dict(), "model_key": prediction.key.id,
            "request_id": prediction.request_id, "predicted_label": prediction.label, "true_label": feedback.true_label,
            "signal": feedback.signal, "correct": correct, "matched": True, "at": at,
        })
        FEEDBACK_SEEN.labels(MODEL_LABEL(prediction.key.model), "matched").inc()
        if feedback.true_label is not None:
            by_key[prediction.key].append((feedback.true_label, prediction.label))
            fenced[prediction.key].append((prediction.request_id, feedback))
    await store.store_feedback(documents)
    for key, labelled in by_key.items():
        fence_ids = [feedback_fence_id(*pair) for pair in fenced[key]]

        async def step(monitor: Any, fresh: set[str], labelled: list[tuple[str, str]] = labelled,
                       fence_ids: list[str] = fence_ids, key: ModelKey = key) -> tuple[Any, dict[str, dict[str, float]]]:
            kept = [pair for pair, fid in zip(labelled, fence_ids, strict=True) if fid in fresh]
            evaluations = await asyncio.to_thread(monitor.observe_feedback, kept)
            states = monitor.alert_states() if any(e.transitions for e in evaluations) else None
            # before the checkpoint, like predictions (services/alerts.py): a retry concludes again, never lost
            await alerting.record_evaluations(key, evaluations, at=at, store=store, publisher=publisher, states=states)
            counts: dict[str, float] = defaultdict(float)
            for truth, predicted in kept:
                counts["feedback"] += 1
                counts["correct"] += truth == predicted
                counts[f"true_labels.{label_key(truth)}"] += 1
            start = int(at.timestamp()) // bucket_s * bucket_s
            return None, {str(start): dict(counts)}

        await engine.apply(key, fence_ids, step)
