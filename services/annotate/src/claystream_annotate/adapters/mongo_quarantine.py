"""Outbox entries set aside by the relay (``outbox_quarantine``; ``_id`` = event id or raw hash).

Kept for an admin to inspect (API and ``/admin/quarantine`` page); the response state they
describe stays in ``responses`` untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from claystream_annotate.services.ports import QuarantinedEvent


class MongoOutboxQuarantine:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._entries = db["outbox_quarantine"]

    async def ensure_indexes(self) -> None:
        await self._entries.create_index([("workspace", ASCENDING)])

    async def add(self, entries: Sequence[QuarantinedEvent]) -> None:
        if not entries:
            return
        now = datetime.now(UTC)
        operations = []
        for entry in entries:
            document = asdict(entry)
            document["_id"] = document.pop("id")
            document["quarantined_at"] = entry.quarantined_at or now
            operations.append(UpdateOne({"_id": document["_id"]}, {"$setOnInsert": document}, upsert=True))
        await self._entries.bulk_write(operations, ordered=False)

    async def list(self, workspace: str, *, limit: int = 100) -> list[QuarantinedEvent]:
        cursor = self._entries.find({"workspace": workspace}).sort("quarantined_at", DESCENDING).limit(limit)
        return [QuarantinedEvent(id=d.pop("_id"), **d) async for d in cursor]

    async def count(self, workspace: str) -> int:
        return await self._entries.count_documents({"workspace": workspace})
