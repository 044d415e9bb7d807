"""API keys (shared ``api_keys`` collection) and model/training events (``model_events``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from claystream_common.apikeys import NewApiKey, generate_api_key
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class MongoApiKeyStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._keys = db["api_keys"]

    async def get(self, key_id: str) -> dict[str, Any] | None:
        return await self._keys.find_one({"_id": key_id})

    async def create(self, *, workspace: str, name: str, role: str) -> NewApiKey:
        key = generate_api_key()
        await self._keys.insert_one(
            {
                "_id": key.key_id,
                "workspace": workspace,
                "name": name,
                "role": role,
                "secret_sha256": key.secret_sha256,
                "created_at": datetime.now(UTC),
                "revoked": False,
            }
        )
        return key

    async def list(self, workspace: str) -> list[dict[str, Any]]:
        return [d async for d in self._keys.find({"workspace": workspace}, {"secret_sha256": 0})]

    async def revoke(self, workspace: str, key_id: str) -> bool:
        result = await self._keys.update_one({"_id": key_id, "workspace": workspace}, {"$set": {"revoked": True}})
        return result.matched_count == 1


class MongoModelEventStore:
    """Every models-topic event per dataset (idempotent by event id), newest first on read."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._events = db["model_events"]

    async def ensure_indexes(self) -> None:
        await self._events.create_index([("dataset_key", ASCENDING), ("occurred_at", DESCENDING)])

    async def add(self, *, event_id: str, workspace: str | None, dataset: str | None, event_type: str, data: dict[str, Any], occurred_at: datetime) -> bool:
        try:
            await self._events.insert_one(
                {
                    "_id": event_id,
                    "dataset_key": f"{workspace}/{dataset}",
                    "workspace": workspace,
                    "dataset": dataset,
                    "type": event_type,
                    "data": data,
                    "occurred_at": occurred_at,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def delete_dataset(self, workspace: str, dataset: str) -> int:
        return (await self._events.delete_many({"dataset_key": f"{workspace}/{dataset}"})).deleted_count

    async def recent(self, workspace: str, dataset: str, limit: int = 20) -> list[dict[str, Any]]:
        cursor = self._events.find({"dataset_key": f"{workspace}/{dataset}"}).sort("occurred_at", DESCENDING).limit(limit)
        return [d async for d in cursor]
