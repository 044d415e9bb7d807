"""Dataset documents in the shared ``datasets`` collection, with a short in-process cache."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from claystream_annotate.services.errors import Conflict


class MongoDatasetStore:
    """Unique (workspace, name).  Reads by name are cached for ``cache_s`` seconds (hot path:
    every submit and next); writes through this store invalidate the cache."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, cache_s: float = 2.0) -> None:
        self._datasets = db["datasets"]
        self._cache_s = cache_s
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}

    async def ensure_indexes(self) -> None:
        await self._datasets.create_index([("workspace", ASCENDING), ("name", ASCENDING)], unique=True)

    async def insert(self, document: dict[str, Any]) -> None:
        try:
            await self._datasets.insert_one(document)
        except DuplicateKeyError:
            raise Conflict(f"dataset {document.get('name')} exists already") from None
        self._cache.clear()

    async def get(self, workspace: str, name: str) -> dict[str, Any] | None:
        key = (workspace, name)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._cache_s:
            return dict(hit[1]) if hit[1] is not None else None
        document = await self._datasets.find_one({"workspace": workspace, "name": name})
        self._cache[key] = (now, document)
        return dict(document) if document is not None else None

    async def get_by_id(self, dataset_id: str) -> dict[str, Any] | None:
        key = ("", dataset_id)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._cache_s:
            return dict(hit[1]) if hit[1] is not None else None
        document = await self._datasets.find_one({"_id": dataset_id})
        self._cache[key] = (now, document)
        return dict(document) if document is not None else None

    async def list(self, workspaces: Sequence[str] | None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {} if workspaces is None else {"workspace": {"$in": list(workspaces)}}
        documents = [d async for d in self._datasets.find(query)]
        return sorted(documents, key=lambda d: (d.get("workspace", ""), d.get("name", "")))

    async def replace(self, document: dict[str, Any]) -> None:
        await self._datasets.replace_one({"_id": document["_id"]}, document)
        self._cache.clear()

    async def delete(self, dataset_id: str) -> bool:
        result = await self._datasets.delete_one({"_id": dataset_id})
        self._cache.clear()
        return result.deleted_count == 1
