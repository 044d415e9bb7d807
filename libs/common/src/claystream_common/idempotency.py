"""Idempotency fences: remember processed event ids so redeliveries change nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from claystream_common.mongo import insert_new


class IdempotencyFence(Protocol):
    async def filter_new(self, event_ids: list[str]) -> set[str]:
        """The ids among these that were not processed yet."""

    async def mark_processed(self, event_ids: list[str]) -> None: ...


class NoFence:
    """For handlers that are idempotent by natural keys alone."""

    async def filter_new(self, event_ids: list[str]) -> set[str]:
        return set(event_ids)

    async def mark_processed(self, event_ids: list[str]) -> None:
        return None


class InMemoryFence:
    """A fence for unit tests and single-process tools."""

    def __init__(self) -> None:
        self.processed: set[str] = set()

    async def filter_new(self, event_ids: list[str]) -> set[str]:
        return {e for e in event_ids if e not in self.processed}

    async def mark_processed(self, event_ids: list[str]) -> None:
        self.processed.update(event_ids)


class MongoFence:
    """Processed ids in a collection (``_id`` = group:event_id), expired by a TTL index.

    It absorbs redeliveries of events whose handling completed (a crash or rebalance before the
    offset commit, a producer retry, a replayed partition).  It cannot cover a crash *between* a
    handler's side effects and ``mark_processed``: that one batch is handled again, so handlers
    must still be idempotent (natural-key upserts) - see test_consumer_lifecycle's kill test.
    """

    def __init__(self, collection: AsyncCollection[dict[str, Any]], group: str, *, ttl_s: int = 7 * 24 * 3600) -> None:
        self._collection = collection
        self._group = group
        self._ttl_s = ttl_s

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("processed_at", ASCENDING)], expireAfterSeconds=self._ttl_s)

    def _key(self, event_id: str) -> str:
        return f"{self._group}:{event_id}"

    async def filter_new(self, event_ids: list[str]) -> set[str]:
        if not event_ids:
            return set()
        keys = {self._key(e): e for e in event_ids}
        seen = await self._collection.find({"_id": {"$in": list(keys)}}, {"_id": 1}).to_list(None)
        seen_keys = {doc["_id"] for doc in seen}
        return {event_id for key, event_id in keys.items() if key not in seen_keys}

    async def mark_processed(self, event_ids: list[str]) -> None:
        if not event_ids:
            return
        now = datetime.now(UTC)
        await insert_new(self._collection, [{"_id": self._key(e), "processed_at": now} for e in dict.fromkeys(event_ids)])
