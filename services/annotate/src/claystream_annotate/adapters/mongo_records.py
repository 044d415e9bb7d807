"""Records in MongoDB: idempotent bulk upserts keyed by record id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase


class MongoRecordRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._records = db["records"]

    async def ensure_indexes(self) -> None:
        await self._records.create_index([("dataset", ASCENDING), ("inserted_at", ASCENDING)])

    async def upsert_many(self, records: list[dict[str, Any]]) -> int:
        if not records:
            return 0
        now = datetime.now(UTC)
        operations = []
        for record in records:
            document = {k: v for k, v in record.items() if k != "_id"}
            operations.append(
                UpdateOne(
                    {"_id": record["_id"]},
                    {"$set": {**document, "updated_at": now}, "$setOnInsert": {"inserted_at": now}},
                    upsert=True,
                )
            )
        result = await self._records.bulk_write(operations, ordered=False)
        return result.upserted_count

    async def get(self, record_id: str) -> dict[str, Any] | None:
        return await self._records.find_one({"_id": record_id})
