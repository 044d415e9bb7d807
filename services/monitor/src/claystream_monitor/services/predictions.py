"""Use case: a batch of prediction.logged events → storage, windows, checks, alerts, samples."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from claystream_common.events import Envelope, PredictionLogged
from claystream_common.ports import EventPublisher

from claystream_monitor.drift.monitor import Evaluation, ModelMonitor
from claystream_monitor.drift.reference import Observation, confidence
from claystream_monitor.metrics import MODEL_LABEL, PREDICTIONS_SEEN
from claystream_monitor.services import alerts as alerting
from claystream_monitor.services.engine import MonitorEngine
from claystream_monitor.services.feedback import apply_joined_feedback, label_key
from claystream_monitor.services.ports import (
    DatasetDirectory,
    JoinedPrediction,
    JoinIndex,
    ModelKey,
    MonitorStore,
    RateLimiter,
    SampleSink,
    TextFeatures,
)
from claystream_monitor.services.sampling import SampleDraw, send_samples, text_digest


@dataclass(frozen=True)
class SamplingPolicy:
    dataset: str | None
    per_alert: int
    per_hour: int

    def dataset_for(self, key: ModelKey) -> str:
        return self.dataset or key.model


@dataclass(frozen=True)
class PredictionPorts:
    engine: MonitorEngine
    store: MonitorStore
    join: JoinIndex
    publisher: EventPublisher
    sink: SampleSink
    limiter: RateLimiter
    directory: DatasetDirectory
    sampling: SamplingPolicy
    time_bucket_s: int = 60
    store_texts: bool = False
    text_features: TextFeatures | None = None  # None: the window measures its texts in its own thread


async def record_predictions(events: list[Envelope[PredictionLogged]], *, ports: PredictionPorts) -> list[Evaluation]:
    """Handle one consumer batch.

    Storage comes first (the bucket is keyed by its first event id, the join index is a SET), then the
    window: events are marked seen only once the window took them, so a batch redelivered after a storage
    failure is processed again, while one redelivered after the window update is not counted twice.
    """
    engine = ports.engine
    event_ids = [str(e.event_id) for e in events]
    unseen = engine.unseen(event_ids)
    by_key: dict[ModelKey, list[Envelope[PredictionLogged]]] = defaultdict(list)
    ids_by_key: dict[ModelKey, list[str]] = defaultdict(list)  # formatted once: a UUID's str() is Python code
    for event, event_id in zip(events, event_ids, strict=True):
        if event_id in unseen:
            unseen.discard(event_id)  # a duplicate inside the batch counts once
            key = ModelKey(event.workspace, event.data.model, event.data.model_version)
            by_key[key].append(event)
            ids_by_key[key].append(event_id)
    # Models are independent (each has its own window, checkpoint and lock; order is kept within a model):
    # the models sharing a partition are handled at the same time, so one model's storage round trips
    # overlap another's window work.
    results = await asyncio.gather(*(_record_model_batch(key, batch, ids_by_key[key], ports=ports)
                                     for key, batch in by_key.items()))
    return [evaluation for evaluations in results for evaluation in evaluations]


async def _record_model_batch(
    key: ModelKey, batch: list[Envelope[PredictionLogged]], event_ids: list[str], *, ports: PredictionPorts,
) -> list[Evaluation]:
    """Storage that is idempotent by itself (the bucket keyed by its first event id, the join SET), and the
    window under the model's checkpoint (engine.apply): events it counted before are fenced, traffic is
    counted in the same checkpoint, so a batch redelivered after a crash or a rebalance counts once.

    The storage round trips run while the window takes the events (CPU work in a thread).  They, and what
    the window concluded (evaluations, alerts, drift events, samples: ``conclude``), are complete before
    the checkpoint is written: if anything fails, the window is not saved (the engine forgets the model's
    memory and restores it from its checkpoint) and the retried batch concludes again, under the same
    names (services/alerts.py).  Concluding after the checkpoint lost the alerts of a batch whose
    conclusion failed: its retry was fenced."""
    observations = [
        Observation(e.data.request_id, e.data.predicted_label, confidence(e.data.scores, e.data.predicted_label),
                    e.data.text, tuple(e.data.predicted_labels) if e.data.predicted_labels is not None else None)
        for e in batch
    ]
    at = alerting.now()

    async def store() -> None:  # the bucket (text digests) is built once the window's texts went to the worker
        await ports.store.store_predictions(key, _bucket(batch, observations, store_texts=ports.store_texts))

    storage = asyncio.ensure_future(asyncio.gather(  # independent and idempotent: MongoDB and Redis at once
        store(), ports.join.remember([JoinedPrediction(o.request_id, key, o.label, o.score) for o in observations]),
    ))
    try:
        outcome, parked = await _window(key, batch, event_ids, observations, storage, at=at, ports=ports)
    finally:
        if not storage.done():  # the window failed first: leave nothing running behind the retry
            storage.cancel()
            with contextlib.suppress(BaseException):
                await storage
    if outcome is None:
        return []  # every event was counted before (a redelivery)
    evaluations, counted = outcome
    PREDICTIONS_SEEN.labels(MODEL_LABEL(key.model)).inc(counted)
    if parked:
        await apply_joined_feedback(parked, engine=ports.engine, store=ports.store, publisher=ports.publisher,
                                    bucket_s=ports.time_bucket_s)
    return evaluations


async def _window(
    key: ModelKey, batch: list[Envelope[PredictionLogged]], event_ids: list[str], observations: list[Observation],
    storage: asyncio.Future[Any], *, at: datetime, ports: PredictionPorts,
) -> tuple[Any, list[Any]]:
    """The model's window takes the batch (``storage`` awaited and the conclusions written before the
    checkpoint); returns ((evaluations, events counted) or None for a redelivery, the feedback that was
    waiting for these predictions)."""
    config = ports.engine.config
    embed = ports.engine.embedder.embed if ports.engine.embedder is not None else None

    async def step(monitor: ModelMonitor, fresh: set[str]) -> tuple[Any, dict[str, dict[str, float]]]:
        kept = [(e, o) for e, o, event_id in zip(batch, observations, event_ids, strict=True) if event_id in fresh]
        events, seen = [e for e, _ in kept], [o for _, o in kept]
        evaluations, frozen = await _observe(monitor, seen, embed=embed, text_features=ports.text_features)
        states = monitor.alert_states() if any(e.transitions for e in evaluations) else None
        traffic = _traffic(events, seen, bucket_s=ports.time_bucket_s, low=config.low_confidence)
        await storage  # stored before the checkpoint says these events were counted
        if frozen is not None:
            await ports.store.save_reference(key, frozen.to_document())
        await conclude(key, evaluations, at=at, ports=ports, states=states)  # likewise
        return (evaluations, len(events)), traffic

    outcome, _ = await ports.engine.apply(key, event_ids, step)
    _, parked = await storage
    ports.engine.mark_seen(event_ids)
    return outcome, parked


OBSERVE_CHUNK = 250  # texts a worker call: the window takes one chunk while the next is measured (docs/PERFORMANCE.md)


async def _observe(
    monitor: ModelMonitor, seen: list[Observation], *, embed: Any, text_features: TextFeatures | None,
) -> tuple[list[Evaluation], Any]:
    """The window takes ``seen`` in order, in a thread.  With a text worker and a reference in use, the texts
    are measured there, chunk by chunk, while the window takes the chunks already measured; the window's own
    thread and this loop then only do what the worker cannot."""
    if text_features is None or monitor.reference is None:
        return await asyncio.to_thread(monitor.observe, seen, embed=embed)
    vocabulary = monitor.reference.vocabulary
    chunks = [seen[start:start + OBSERVE_CHUNK] for start in range(0, len(seen), OBSERVE_CHUNK)]
    measuring = [asyncio.ensure_future(text_features.measure([o.text for o in chunk], vocabulary)) for chunk in chunks]
    evaluations: list[Evaluation] = []
    try:
        for chunk, measured in zip(chunks, measuring, strict=True):
            found, _ = await asyncio.to_thread(monitor.observe, chunk, embed=embed, features=await measured)
            evaluations += found
    finally:
        for measured in measuring:
            measured.cancel()
    return evaluations, None  # the reference was in use already: these observations froze none


async def conclude(
    key: ModelKey, evaluations: list[Evaluation], *, at: datetime, ports: PredictionPorts, states: dict[str, Any] | None,
) -> None:
    """Persist evaluations, publish transitions, route samples back (idempotent: the batch's retry
    concludes again under the same names)."""
    if not evaluations:
        return
    await alerting.record_evaluations(key, evaluations, at=at, store=ports.store, publisher=ports.publisher, states=states)
    draws = [SampleDraw(e.affected, sorted({r.check for r in e.results if r.breached} or set(e.alerting)))
             for e in evaluations if e.affected]
    if draws:
        await send_samples(
            key, draws, dataset=ports.sampling.dataset_for(key), limit=ports.sampling.per_alert,
            per_hour=ports.sampling.per_hour, at=at, sink=ports.sink, limiter=ports.limiter, store=ports.store,
            directory=ports.directory,
        )


def _bucket(batch: list[Envelope[PredictionLogged]], observations: list[Observation], *, store_texts: bool) -> dict[str, list[Any]]:
    """One document per batch (bucket pattern): parallel arrays of scalars."""
    bucket: dict[str, list[Any]] = {
        "request_ids": [o.request_id for o in observations],
        "labels": [o.label for o in observations],
        "scores": [None if math.isnan(o.score) else round(o.score, 5) for o in observations],
        "lengths": [len(o.text) for o in observations],
        "text_digests": [text_digest(o.text) for o in observations],
        "predicted_at": [e.data.predicted_at for e in batch],
        "event_ids": [str(batch[0].event_id)],
    }
    if any(o.labels is not None for o in observations):
        bucket["label_sets"] = [list(o.labels) if o.labels is not None else None for o in observations]
    if store_texts:
        bucket["texts"] = [o.text for o in observations]
    return bucket


def _traffic(
    batch: list[Envelope[PredictionLogged]], observations: list[Observation], *, bucket_s: int, low: float
) -> dict[str, dict[str, float]]:
    """Per time bucket (epoch seconds as a string): counts to $inc."""
    buckets: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for event, observation in zip(batch, observations, strict=True):
        start = int(event.data.predicted_at.timestamp()) // bucket_s * bucket_s
        counts = buckets[str(start)]
        counts["count"] += 1
        counts[f"labels.{label_key(observation.label)}"] += 1
        for label in observation.labels or ():
            counts[f"label_sets.{label_key(label)}"] += 1
        if not math.isnan(observation.score):
            counts["score_sum"] += observation.score
            counts["scored"] += 1
            counts["low_confidence"] += observation.score < low
    return {start: dict(counts) for start, counts in buckets.items()}
