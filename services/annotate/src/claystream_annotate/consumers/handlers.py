"""Plain handler coroutines: validated events in, side effects through ports."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, Protocol

from claystream_common.datasets import DatasetSpec
from claystream_common.errors import PermanentError
from claystream_common.events import Envelope, RecordIngested, SuggestionCreated
from claystream_common.questions import InvalidValue, question_type

from claystream_annotate.services.ports import StoredBatch
from claystream_annotate.services.queue import queue_score

log = logging.getLogger(__name__)


class RecordStore(Protocol):
    async def upsert_many(self, records: list[dict[str, Any]]) -> StoredBatch: ...
    async def set_suggestions(self, items: list[tuple[str, str, dict[str, Any], float | None]]) -> int: ...


class DatasetLookup(Protocol):
    async def get(self, workspace: str, name: str) -> dict[str, Any] | None: ...


class QueueWriter(Protocol):
    async def add(self, dataset_id: str, entries: list[tuple[str, float]], *, only_new: bool = True) -> None: ...
    async def rescore(self, dataset_id: str, entries: list[tuple[str, float]]) -> None: ...


class CounterWriter(Protocol):
    async def incr(self, dataset_id: str, name: str, amount: int = 1) -> None: ...


class VectorSink(Protocol):
    async def stored(self, dataset_id: str, records: list[tuple[str, dict[str, list[float]]]]) -> None: ...


class ModelEventWriter(Protocol):
    async def add(self, *, event_id: str, workspace: str | None, dataset: str | None, event_type: str, data: dict[str, Any], occurred_at: Any) -> bool: ...


async def _dataset(workspace: str | None, dataset: str | None, datasets: DatasetLookup) -> dict[str, Any]:
    if not workspace or not dataset:
        raise PermanentError("event without workspace or dataset")
    document = await datasets.get(workspace, dataset)
    if document is None:
        raise PermanentError(f"unknown dataset {workspace}/{dataset}")
    return document


async def _dataset_id(workspace: str | None, dataset: str | None, datasets: DatasetLookup) -> str:
    return str((await _dataset(workspace, dataset, datasets))["_id"])


def checked_vectors(record_id: str, vectors: dict[str, list[float]], dataset: dict[str, Any]) -> dict[str, list[float]]:
    """The record's vectors when every one is a declared field of the right size (ingest checked them; an event
    that did not come through ingest is dead-lettered with the cause rather than stored half-valid)."""
    dimensions = {v["name"]: v["dimensions"] for v in dataset.get("vectors") or []}
    for name, vector in vectors.items():
        if name not in dimensions:
            raise PermanentError(f"record {record_id}: vectors.{name}: unknown vector field")
        if len(vector) != dimensions[name]:
            raise PermanentError(f"record {record_id}: vectors.{name}: {len(vector)} numbers, "
                                 f"the field has {dimensions[name]} dimensions")
    return vectors


async def on_records_ingested(
    events: list[Envelope[RecordIngested]], *, records: RecordStore, datasets: DatasetLookup, queue: QueueWriter, counters: CounterWriter,
    vectors: VectorSink | None = None,
) -> None:
    """Upsert the batch (idempotent by record id), ensure every pending record of it is queued
    (re-sent ones too: a redelivery after a crash or a Redis timeout between the MongoDB write
    and the queue add must repair the queue, and ZADD NX keeps the scores already there),
    count the new ones; records with vectors go to the similarity index too."""
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        data = event.data
        dataset = await _dataset(event.workspace, event.dataset, datasets)
        dataset_id = str(dataset["_id"])
        suggestions = {
            s.question: {"value": s.value, "score": s.score, "agent": s.agent, "model_version": s.model_version}
            for s in data.suggestions
        }
        document: dict[str, Any] = {
            "_id": data.record_id,
            "dataset_id": dataset_id,
            "dataset": event.dataset,
            "workspace": event.workspace,
            "external_id": data.external_id,
            "fields": data.fields,
            "metadata": data.metadata,
            "origin": data.origin,
            "ingest_event_id": str(event.event_id),
            "ingest_at": int(event.occurred_at.timestamp() * 1_000_000),  # which of two sends is newer
        }
        if suggestions:
            document["suggestions"] = suggestions
        if event.traceparent:  # the record's own trace: what happens to it later (answers, completion) joins it
            document["trace"] = event.traceparent
        if data.vectors:
            document["vectors"] = checked_vectors(data.record_id, data.vectors, dataset)
        by_dataset[dataset_id].append(document)
    for dataset_id, documents in by_dataset.items():
        unique = list({d["_id"]: d for d in documents}.values())
        stored = await records.upsert_many(unique)
        if stored.pending:
            await queue.add(dataset_id, stored.pending, only_new=True)
        if stored.new:
            await counters.incr(dataset_id, "records", len(stored.new))
        if vectors is not None:
            await vectors.stored(dataset_id, [(d["_id"], d["vectors"]) for d in unique if d.get("vectors")])


async def on_suggestions_created(
    events: list[Envelope[SuggestionCreated]], *, records: RecordStore, datasets: DatasetLookup, queue: QueueWriter
) -> None:
    """Attach each suggestion (label, score, agent, model version) and re-rank the queue by priority.  The value is
    stored in its question type's normal form, as ingest stores a backend's (a multi-label model lists its labels
    most probable first; stored, they are in label order, so an unchanged pre-ticked answer equals the suggestion).
    A value the question refuses is dead-lettered with the reason; one for a question the dataset no longer has
    is dropped."""
    items: list[tuple[str, str, dict[str, Any], float | None]] = []
    rescore: dict[str, list[tuple[str, float]]] = defaultdict(list)
    specs: dict[tuple[str | None, str | None], DatasetSpec] = {}
    for event in events:
        data = event.data
        key = (event.workspace, event.dataset)
        if key not in specs:
            specs[key] = DatasetSpec.from_document(await _dataset(event.workspace, event.dataset, datasets))
        spec = specs[key]
        question = spec.question(data.question)
        if question is None:
            log.info("suggestion for question %r, which dataset %s/%s no longer has: dropped", data.question,
                     event.workspace, event.dataset)
            continue
        try:
            value = question_type(question).normalise(question, data.label)
        except InvalidValue as error:
            raise PermanentError(f"record {data.record_id}: suggestion for {data.question}: {error.reason}") from None
        dataset_id = spec.id
        suggestion = {
            "value": value,
            "score": data.score,
            "scores": data.scores,
            "agent": data.agent,
            "model_version": data.model_version,
        }
        items.append((data.record_id, data.question, suggestion, data.priority))
        rescore[dataset_id].append((data.record_id, queue_score(data.priority, 0)))
    matched = await records.set_suggestions(items)
    if matched < len(items):
        log.info("%d suggestions for records not stored (yet)", len(items) - matched)
    for dataset_id, entries in rescore.items():
        await queue.rescore(dataset_id, entries)


async def on_model_event(event: Envelope[Any], *, model_events: ModelEventWriter, datasets: DatasetLookup) -> None:
    """Keep training progress and model changes per dataset for the UI (unknown datasets are poison)."""
    await _dataset_id(event.workspace, event.dataset, datasets)
    await model_events.add(
        event_id=str(event.event_id),
        workspace=event.workspace,
        dataset=event.dataset,
        event_type=event.type,
        data=event.data.model_dump(mode="json"),
        occurred_at=event.occurred_at,
    )
