"""Record texts (from ``record.ingested``) and label answers (from ``response.*``), the trainer's own collections.

Why its own label collection rather than annotate's records API: the trainer must train even while annotate
is down or slow, and every label event carries (record, user, version), so an idempotent upsert per
(record, user) that never lets an older version overwrite a newer one rebuilds exactly annotate's answers.
Training always reads this collection (the source of truth), never the Redis counters, so a lost or
duplicated event can only delay a training, never corrupt its data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from claystream_trainer.domain.ports import DatasetKey, LabelChange, StoredRecord

SEP = "\x1f"


def _dskey(dataset: DatasetKey) -> str:
    return f"{dataset.workspace}/{dataset.dataset}"


class MongoRecordStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._records = db["trainer_records"]

    async def ensure_indexes(self) -> None:
        await self._records.create_index([("dskey", ASCENDING)])

    async def upsert_texts(self, dataset: DatasetKey, records: Sequence[StoredRecord]) -> None:
        if not records:
            return
        key = _dskey(dataset)
        operations = [
            UpdateOne(
                {"_id": f"{key}{SEP}{r.record_id}"},
                {"$set": {"dskey": key, "workspace": dataset.workspace, "dataset": dataset.dataset,
                          "record_id": r.record_id, "text": r.text},
                 **({"$setOnInsert": {"trace": r.trace}} if r.trace else {})},  # the first send's trace stays
                upsert=True,
            )
            for r in records
        ]
        await self._records.bulk_write(operations, ordered=False)

    async def texts(self, dataset: DatasetKey, record_ids: Sequence[str]) -> dict[str, str]:
        return await self._field_of(dataset, record_ids, "text")

    async def traces(self, dataset: DatasetKey, record_ids: Sequence[str]) -> dict[str, str]:
        return await self._field_of(dataset, record_ids, "trace")

    async def _field_of(self, dataset: DatasetKey, record_ids: Sequence[str], field: str) -> dict[str, str]:
        """record id → ``field`` for the records that have it, read 5,000 ids at a time."""
        key = _dskey(dataset)
        result: dict[str, str] = {}
        ids = list(record_ids)
        for start in range(0, len(ids), 5000):
            wanted = [f"{key}{SEP}{r}" for r in ids[start:start + 5000]]
            async for doc in self._records.find({"_id": {"$in": wanted}}, {"record_id": 1, field: 1}):
                if doc.get(field) is not None:
                    result[doc["record_id"]] = doc[field]
        return result

    async def all_ids(self, dataset: DatasetKey) -> list[str]:
        cursor = self._records.find({"dskey": _dskey(dataset)}, {"record_id": 1})
        return [doc["record_id"] async for doc in cursor]

    async def delete(self, dataset: DatasetKey, record_ids: Sequence[str]) -> int:
        key = _dskey(dataset)
        return (await self._records.delete_many({"_id": {"$in": [f"{key}{SEP}{r}" for r in record_ids]}})).deleted_count

    async def drop_dataset(self, dataset: DatasetKey) -> int:
        return (await self._records.delete_many({"dskey": _dskey(dataset)})).deleted_count

    async def datasets(self) -> list[DatasetKey]:
        keys = await self._records.distinct("dskey")
        return [DatasetKey(*key.split("/", 1)) for key in keys]


class MongoLabelStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._labels = db["trainer_labels"]

    async def ensure_indexes(self) -> None:
        await self._labels.create_index([("dskey", ASCENDING), ("status", ASCENDING)])

    async def apply(self, change: LabelChange) -> bool:
        key = _dskey(change.dataset)
        doc_id = f"{key}{SEP}{change.record_id}{SEP}{change.user_id}"
        current = await self._labels.find_one({"_id": doc_id}, {"version": 1})
        if current is not None and int(current.get("version", 0)) > change.version:
            return False  # an older answer arriving late never overwrites a newer one
        await self._labels.update_one(
            {"_id": doc_id},
            {"$set": {"dskey": key, "record_id": change.record_id, "user_id": change.user_id,
                      "status": change.status,
                      "label": list(change.label) if isinstance(change.label, tuple) else change.label,
                      "version": change.version,
                      "updated_at": change.at, "event_id": change.event_id}},
            upsert=True,
        )
        return True

    async def delete_for_records(self, dataset: DatasetKey, record_ids: Sequence[str]) -> int:
        return (await self._labels.delete_many({"dskey": _dskey(dataset), "record_id": {"$in": list(record_ids)}})).deleted_count

    async def drop_dataset(self, dataset: DatasetKey) -> int:
        return (await self._labels.delete_many({"dskey": _dskey(dataset)})).deleted_count

    async def labelled(self, dataset: DatasetKey) -> dict[str, str | tuple[str, ...]]:
        """A multi-label answer (stored as a list) comes back as a sorted tuple."""
        votes: dict[str, list[tuple[Any, Any]]] = {}
        cursor = self._labels.find(
            {"dskey": _dskey(dataset), "status": "submitted"}, {"record_id": 1, "label": 1, "updated_at": 1}
        )
        async for doc in cursor:
            if doc.get("label") is not None:
                label = doc["label"]
                value = tuple(sorted(str(v) for v in label)) if isinstance(label, list) else str(label)
                votes.setdefault(doc["record_id"], []).append((doc.get("updated_at"), value))
        return {record_id: majority(answers) for record_id, answers in votes.items()}


def majority(answers: list[tuple[Any, Any]]) -> Any:
    """Most frequent label; among equals, the most recently answered one."""
    counts = Counter(label for _, label in answers)
    best = max(counts.values())
    tied = {label for label, n in counts.items() if n == best}
    latest = sorted((a for a in answers if a[1] in tied), key=lambda a: str(a[0]))
    return latest[-1][1]
