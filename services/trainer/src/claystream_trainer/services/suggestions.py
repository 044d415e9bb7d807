"""Score records with a model's head and publish ``suggestion.created`` (label, score, priority)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from opentelemetry import trace
from claystream_common.events import SuggestionCreated, new_event
from claystream_common.ports import EventPublisher

from claystream_trainer.domain.ports import DatasetKey, ModelEntry
from claystream_trainer.domain.uncertainty import margin_priority

_TRACER = trace.get_tracer("claystream.trainer")


def score(head: Any, vectors: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(predicted labels, probability matrix in ``head.classes_`` order, priorities)."""
    probabilities = head.predict_proba(vectors)
    classes = [str(c) for c in head.classes_]
    best = probabilities.argmax(axis=1)
    return [classes[i] for i in best], probabilities, margin_priority(probabilities)


async def publish_suggestions(
    dataset: DatasetKey,
    entry: ModelEntry,
    head: Any,
    record_ids: Sequence[str],
    vectors: np.ndarray,
    *,
    publisher: EventPublisher,
    batch: int = 2000,
) -> int:
    if len(record_ids) == 0:
        return 0
    labels, probabilities, priorities = score(head, vectors)
    classes = [str(c) for c in head.classes_]
    events = []
    for i, record_id in enumerate(record_ids):
        row = probabilities[i]
        data = SuggestionCreated(
            record_id=record_id,
            question=entry.question,
            label=labels[i],
            score=round(float(row.max()), 6),
            scores={c: round(float(p), 6) for c, p in zip(classes, row, strict=True)},
            model_version=entry.version,
            priority=round(float(priorities[i]), 6),
        )
        events.append(new_event("suggestion.created", data, dataset=dataset.dataset, workspace=dataset.workspace))
    with _TRACER.start_as_current_span("trainer publish suggestions", attributes={
            "claystream.model.version": entry.version, "claystream.suggestions": len(events)}):
        for start in range(0, len(events), batch):
            chunk = events[start:start + batch]
            await publisher.publish_many(chunk, keys=[e.data.record_id for e in chunk])
    return len(events)
