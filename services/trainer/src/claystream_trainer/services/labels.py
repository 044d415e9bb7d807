"""Use cases behind the consumers: store record texts and label answers, count labels, poke the loops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from claystream_common.datasets import DatasetSpec
from claystream_common.errors import PermanentError
from claystream_common.events import Envelope

from claystream_trainer.domain.ports import DatasetKey, LabelChange, StoredRecord
from claystream_trainer.services.ports_bundle import TrainerPorts
from claystream_trainer.services.training_data import Label, text_field_of, training_target


def dataset_of(event: Envelope[Any]) -> DatasetKey:
    if not event.workspace or not event.dataset:
        raise PermanentError(f"{event.type} {event.event_id} has no workspace/dataset")
    return DatasetKey(event.workspace, event.dataset)


async def known_spec(dataset: DatasetKey, ports: TrainerPorts) -> DatasetSpec:
    """The dataset's document; an event for a dataset nobody created is poison (DLQ), not data."""
    spec = await ports.specs.get(dataset)
    if spec is None:
        raise PermanentError(f"unknown dataset {dataset.workspace}/{dataset.dataset}")
    return spec


def text_of(fields: dict[str, Any], spec: DatasetSpec | None) -> str | None:
    value = fields.get(text_field_of(spec))
    if isinstance(value, str):
        return value
    return next((v for v in fields.values() if isinstance(v, str)), None)


async def store_records(events: Sequence[Envelope[Any]], *, ports: TrainerPorts) -> set[DatasetKey]:
    """Keep the learnable text of each ingested record; returns the datasets touched."""
    grouped: dict[DatasetKey, list[StoredRecord]] = {}
    for event in events:
        dataset = dataset_of(event)
        spec = await known_spec(dataset, ports)
        text = text_of(event.data.fields, spec)
        if text is not None:
            grouped.setdefault(dataset, []).append(StoredRecord(event.data.record_id, text, event.traceparent))
    for dataset, records in grouped.items():
        await ports.records.upsert_texts(dataset, records)
    return set(grouped)


async def forget_records(events: Sequence[Envelope[Any]], *, ports: TrainerPorts) -> None:
    """``record.deleted``: the texts and every answer of those records go (idempotent: a redelivery finds
    nothing).  The next training, whatever starts it, no longer sees them; the Redis counters, which only
    decide when to train, are left as they are.  An answer event already on its way for such a record may
    store its label again: without the record's text it is never trained on."""
    grouped: dict[DatasetKey, list[str]] = {}
    for event in events:
        grouped.setdefault(dataset_of(event), []).append(event.data.record_id)
    for dataset, record_ids in grouped.items():
        await ports.labels.delete_for_records(dataset, record_ids)
        await ports.records.delete(dataset, record_ids)


async def record_label(event: Envelope[Any], *, ports: TrainerPorts) -> DatasetKey:
    """Store the answer (source of truth) then count it once (Redis, by event id)."""
    dataset = dataset_of(event)
    spec = await known_spec(dataset, ports)
    target = training_target(spec)
    data = event.data
    label = target.label_of(data.values.get(target.question)) if target is not None else None
    status = "discarded" if event.type == "response.discarded" else data.status
    change = LabelChange(event_id=str(event.event_id), dataset=dataset, record_id=data.record_id,
                         user_id=data.user_id, status=status, label=label, version=data.version, at=event.occurred_at)
    stored = await ports.labels.apply(change)
    if stored and status == "submitted" and label is not None and target is not None and target.knows(label):
        await ports.counters.count_once(str(event.event_id), dataset, counter_name(label))
    return dataset


def counter_name(label: Label) -> str:
    """The per-class counter a label bumps (a multi-label answer: its sorted labels joined)."""
    return "+".join(label) if isinstance(label, tuple) else label
