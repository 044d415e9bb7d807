"""Dataset documents in the shared ``datasets`` collection, with a short in-process cache."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from claystream_common.read_cache import ReadCache
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from claystream_annotate.services.errors import Conflict


class MongoDatasetStore:
    """Unique (workspace, name).  Reads by name or id are cached at most ``cache_s`` seconds (hot
    path: every submit and next; refreshed ahead: :mod:`claystream_common.read_cache`); writes
    through this store invalidate the cache."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, cache_s: float = 2.0) -> None:
        self._datasets = db["datasets"]
        self._cache: ReadCache[tuple[str, str], dict[str, Any] | None] = ReadCache(cache_s)

    async def ensure_indexes(self) -> None:
        await self._datasets.create_index([("workspace", ASCENDING), ("name", ASCENDING)], unique=True)

    async def insert(self, document: dict[str, Any]) -> None:
        try:
            await self._datasets.insert_one(document)
        except DuplicateKeyError:
            raise Conflict(f"dataset {document.get('name')} exists already") from None
        self._cache.clear()

    async def get(self, workspace: str, name: str, *, fresh: bool = False) -> dict[str, Any] | None:
        def read() -> Any:
            return self._datasets.find_one({"workspace": workspace, "name": name})

        document = await (read() if fresh else self._cache.get((workspace, name), read))
        return dict(document) if document is not None else None

    async def get_by_id(self, dataset_id: str) -> dict[str, Any] | None:
        document = await self._cache.get(("", dataset_id), lambda: self._datasets.find_one({"_id": dataset_id}))
        return dict(document) if document is not None else None

    async def list(self, workspaces: Sequence[str] | None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {} if workspaces is None else {"workspace": {"$in": list(workspaces)}}
        documents = [d async for d in self._datasets.find(query)]
        return sorted(documents, key=lambda d: (d.get("workspace", ""), d.get("name", "")))

    async def replace(self, document: dict[str, Any], *, expected_revision: int | None) -> bool:
        """Compare and swap on ``revision`` (missing on documents written before it: None matches them)."""
        result = await self._datasets.replace_one({"_id": document["_id"], "revision": expected_revision}, document)
        self._cache.clear()
        return result.matched_count == 1

    async def delete(self, dataset_id: str) -> bool:
        result = await self._datasets.delete_one({"_id": dataset_id})
        self._cache.clear()
        return result.deleted_count == 1
