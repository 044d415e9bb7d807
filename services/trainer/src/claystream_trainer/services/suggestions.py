"""Score records with a model's head and publish ``suggestion.created`` (label, score, priority)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from claystream_common.events import SuggestionCreated, new_event
from claystream_common.ports import EventPublisher
from opentelemetry import trace

from claystream_trainer.domain.ports import DatasetKey, ModelEntry
from claystream_trainer.domain.uncertainty import margin_priority

_TRACER = trace.get_tracer("claystream.trainer")


def score(classes: Sequence[Any], probabilities: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(predicted labels, priorities) of a probability matrix whose columns are ``classes``."""
    names = [str(c) for c in classes]
    best = probabilities.argmax(axis=1)
    return [names[i] for i in best], margin_priority(probabilities)


async def publish_suggestions(
    dataset: DatasetKey,
    entry: ModelEntry,
    classes: Sequence[Any],
    record_ids: Sequence[str],
    probabilities: np.ndarray,
    *,
    publisher: EventPublisher,
    batch: int = 2000,
) -> int:
    if len(record_ids) == 0:
        return 0
    labels, priorities = score(classes, probabilities)
    classes = [str(c) for c in classes]
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
