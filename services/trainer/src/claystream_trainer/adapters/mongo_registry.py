"""The model registry (``trainer_models``) and dataset settings (annotate's shared ``datasets``, read only)."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

from claystream_common.datasets import DatasetSpec
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from claystream_trainer.domain.ports import DatasetKey, ModelEntry

_FIELDS = {f.name for f in dataclasses.fields(ModelEntry)}


def _doc_id(dataset: DatasetKey, version: str) -> str:
    return f"{dataset.workspace}/{dataset.dataset}/{version}"


def _entry(doc: dict[str, Any] | None) -> ModelEntry | None:
    if doc is None:
        return None
    return ModelEntry(**{k: v for k, v in doc.items() if k in _FIELDS})


class MongoModelRegistry:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._models = db["trainer_models"]
        self._sequences = db["trainer_model_sequences"]

    async def ensure_indexes(self) -> None:
        await self._models.create_index([("dskey", ASCENDING), ("status", ASCENDING)])

    async def next_version(self, dataset: DatasetKey) -> str:
        doc = await self._sequences.find_one_and_update(
            {"_id": f"{dataset.workspace}/{dataset.dataset}"},
            {"$inc": {"n": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return f"v{int(doc['n'])}"

    async def add(self, entry: ModelEntry) -> None:
        doc = dataclasses.asdict(entry)
        doc["created_at"] = doc["created_at"] or datetime.now(UTC)
        doc["created_ts"] = time.time()
        doc["dskey"] = f"{entry.workspace}/{entry.dataset}"
        doc["_id"] = _doc_id(entry.dataset_key, entry.version)  # in the document too: some servers drop the filter's
        await self._models.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def get(self, dataset: DatasetKey, version: str) -> ModelEntry | None:
        return _entry(await self._models.find_one({"_id": _doc_id(dataset, version)}))

    async def champion(self, dataset: DatasetKey) -> ModelEntry | None:
        cursor = self._models.find({"dskey": f"{dataset.workspace}/{dataset.dataset}", "status": "champion"})
        docs = await cursor.sort("promoted_ts", DESCENDING).limit(1).to_list(1)
        return _entry(docs[0]) if docs else None

    async def list(self, dataset: DatasetKey, *, limit: int = 50) -> list[ModelEntry]:
        cursor = self._models.find({"dskey": f"{dataset.workspace}/{dataset.dataset}"})
        docs = await cursor.sort("created_ts", DESCENDING).limit(limit).to_list(limit)
        return [e for e in (_entry(d) for d in docs) if e is not None]

    async def last_of_kind(self, dataset: DatasetKey, kind: str) -> ModelEntry | None:
        cursor = self._models.find({"dskey": f"{dataset.workspace}/{dataset.dataset}", "kind": kind})
        docs = await cursor.sort("created_ts", DESCENDING).limit(1).to_list(1)
        return _entry(docs[0]) if docs else None

    async def promote(self, dataset: DatasetKey, version: str) -> ModelEntry | None:
        previous = await self.champion(dataset)
        now = datetime.now(UTC)
        # retire first, then crown (no "$ne" on _id: the dev server's matcher differs from MongoDB's there);
        # readers between the two writes see no champion for an instant and keep their loaded model
        await self._models.update_many(
            {"dskey": f"{dataset.workspace}/{dataset.dataset}", "status": "champion"}, {"$set": {"status": "retired"}}
        )
        await self._models.update_one(
            {"_id": _doc_id(dataset, version)},
            {"$set": {"status": "champion", "promoted_at": now, "promoted_ts": time.time()}},
        )
        return previous if previous is None or previous.version != version else None

    async def set_status(self, dataset: DatasetKey, version: str, status: str) -> None:
        await self._models.update_one({"_id": _doc_id(dataset, version)}, {"$set": {"status": status}})

    async def drop_dataset(self, dataset: DatasetKey) -> int:
        """Every model entry and the version sequence (a new dataset of the same name starts at v1)."""
        key = f"{dataset.workspace}/{dataset.dataset}"
        await self._sequences.delete_one({"_id": key})
        return (await self._models.delete_many({"dskey": key})).deleted_count


class MongoDatasetSpecs:
    """Reads annotate's dataset documents through the shared contract model (cached a few seconds)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, cache_s: float = 5.0) -> None:
        self._datasets = db["datasets"]
        self._cache: dict[DatasetKey, tuple[float, DatasetSpec | None]] = {}
        self._cache_s = cache_s

    async def get(self, dataset: DatasetKey) -> DatasetSpec | None:
        hit = self._cache.get(dataset)
        if hit is not None and time.monotonic() - hit[0] < self._cache_s:
            return hit[1]
        doc = await self._datasets.find_one({"workspace": dataset.workspace, "name": dataset.dataset})
        spec = DatasetSpec.from_document(doc) if doc is not None else None
        if spec is not None:  # "absent" is never cached: a dataset created (again) a moment later is seen at once
            self._cache[dataset] = (time.monotonic(), spec)
        return spec

    def forget(self, dataset: DatasetKey) -> None:
        self._cache.pop(dataset, None)
