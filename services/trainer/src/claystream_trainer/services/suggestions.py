"""Score records with a model's head and publish ``suggestion.created`` (label, score, priority)."""

from __future__ import annotations

from collections.abc import Sequence
import numpy as np
from claystream_common.events import SuggestionCreated, new_event
from claystream_common.ports import EventPublisher
from opentelemetry import trace

from claystream_trainer.domain.ports import DatasetKey, ModelEntry, RecordStore
from claystream_trainer.domain.serving_head import ServingHead, decode
from claystream_trainer.services.training_data import answer_value

_TRACER = trace.get_tracer("claystream.trainer")


async def publish_suggestions(
    dataset: DatasetKey,
    entry: ModelEntry,
    head: ServingHead,
    record_ids: Sequence[str],
    probabilities: np.ndarray,
    *,
    publisher: EventPublisher,
    batch: int = 2000,
    records: RecordStore | None = None,
) -> int:
    """One ``suggestion.created`` per record: the label (a list of labels for a multi-label question, an
    integer for a rating), its score, every class's score and the priority.  ``records``: where each record's own
    trace is read (one read for the call), which its suggestion's publish span links.  The suggestions stay in the trace of the run that made them: a
    record's trace is its send's, shared by every record of that request, and one span pair per pending record
    per retrain would grow it without bound."""
    if len(record_ids) == 0:
        return 0
    traces = await records.traces(dataset, record_ids) if records is not None else {}
    decoded = decode(head, probabilities)
    classes = [str(c) for c in head.classes_]
    kind = entry.params.get("training_kind", "single_label")
    events = []
    for i, record_id in enumerate(record_ids):
        row = probabilities[i]
        data = SuggestionCreated(
            record_id=record_id,
            question=entry.question,
            label=answer_value(kind, decoded.labels[i]),
            score=round(float(decoded.scores[i]), 6),
            scores={c: round(float(p), 6) for c, p in zip(classes, row, strict=True)},
            model_version=entry.version,
            priority=round(float(decoded.priorities[i]), 6),
        )
        record_trace = traces.get(record_id)
        events.append(new_event("suggestion.created", data, dataset=dataset.dataset, workspace=dataset.workspace,
                                links=[record_trace] if record_trace else []))
    with _TRACER.start_as_current_span("trainer publish suggestions", attributes={
            "claystream.model.version": entry.version, "claystream.suggestions": len(events)}):
        for start in range(0, len(events), batch):
            chunk = events[start:start + batch]
            await publisher.publish_many(chunk, keys=[e.data.record_id for e in chunk])
    return len(events)
