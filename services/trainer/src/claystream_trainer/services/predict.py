"""Predict with the champion: labels, scores, version; optionally log each prediction for the monitor."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from claystream_common.events import PredictionLogged, new_event
from claystream_common.ports import EventPublisher

from claystream_trainer.domain.ports import DatasetKey, ModelRegistry
from claystream_trainer.domain.serving_head import Component, Decoded, decode
from claystream_trainer.services.champions import ChampionCache


class NoChampion(LookupError):
    """The dataset has no servable model (none trained yet, or its artifact failed its check)."""


@dataclass(frozen=True)
class Prediction:
    label: str  # multi-label: the most probable of ``labels``
    score: float
    scores: dict[str, float]
    priority: float
    labels: list[str] | None = None  # multi-label questions: every predicted label


@dataclass(frozen=True)
class PredictResult:
    request_id: str
    model_version: str
    predictions: list[Prediction]
    component: str = "embedding"


async def predict(
    dataset: DatasetKey,
    texts: Sequence[str],
    *,
    champions: ChampionCache,
    publisher: EventPublisher | None = None,
    forward: bool = False,
    request_id: str | None = None,
    version: str | None = None,
    registry: ModelRegistry | None = None,
    component: Component | None = None,
) -> PredictResult:
    """``component``: None serves what the model chose (see ``ServingHead``); "embedding" or "student"
    asks for that part (a shadow comparison; the student falls back to the embedding head when absent)."""
    if version is not None and registry is not None:
        entry = await registry.get(dataset, version)
        if entry is None:
            raise NoChampion(f"no model {version} for {dataset}")
        loaded = await champions.load_cached(entry)
    else:
        loaded = await champions.get(dataset)
    if loaded is None:
        reason = champions.load_errors.get(dataset, "no model trained yet")
        raise NoChampion(f"no champion model for {dataset}: {reason}")
    request_id = request_id or uuid.uuid4().hex
    head = loaded.head
    vectors = await asyncio.to_thread(loaded.embedder.embed, list(texts)) if head.needs_vectors(component) else None
    if len(texts) > 16:  # hashing a batch takes milliseconds: keep the event loop free
        probabilities = await asyncio.to_thread(head.probabilities, texts=list(texts), vectors=vectors,
                                                wanted=component)
    else:
        probabilities = head.probabilities(texts=list(texts), vectors=vectors, wanted=component)
    decoded = decode(head, probabilities)
    classes = [str(c) for c in head.classes_]
    predictions = [_prediction(decoded, i, classes, probabilities[i]) for i in range(len(texts))]
    if forward and publisher is not None:
        events = [
            new_event("prediction.logged", PredictionLogged(
                request_id=request_id if len(texts) == 1 else f"{request_id}-{i}", model=dataset.dataset,
                model_version=loaded.entry.version, text=text, predicted_label=p.label,
                predicted_labels=p.labels, scores=p.scores,
                metadata={"workspace": dataset.workspace}), dataset=dataset.dataset, workspace=dataset.workspace)
            for i, (text, p) in enumerate(zip(texts, predictions, strict=True))
        ]
        await publisher.publish_many(events, keys=[e.data.request_id for e in events])
    return PredictResult(request_id=request_id, model_version=loaded.entry.version, predictions=predictions,
                         component=head.component(component))


def _prediction(decoded: Decoded, i: int, classes: list[str], row: np.ndarray) -> Prediction:
    scores = {c: float(p) for c, p in zip(classes, row, strict=True)}
    answer = decoded.labels[i]
    if isinstance(answer, list):
        top = max(classes, key=lambda c: scores[c])
        return Prediction(label=answer[0] if answer else top, score=float(decoded.scores[i]), scores=scores,
                          priority=float(decoded.priorities[i]), labels=list(answer))
    return Prediction(label=answer, score=float(decoded.scores[i]), scores=scores,
                      priority=float(decoded.priorities[i]))
