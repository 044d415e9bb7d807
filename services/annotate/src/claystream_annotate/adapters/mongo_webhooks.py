"""Webhook subscriptions, deliveries and delivery attempts in MongoDB.

* ``webhook_subscriptions``: one document per subscription; ``dedupe_key`` ("{workspace} {url}") is
  unique, so one workspace cannot subscribe the same URL twice.
* ``webhook_deliveries``: one document per (subscription, event), ``_id = "{subscription}:{event id}"``
  (a replay adds ``:r<n>``).  This is the persisted retry schedule: ``status`` pending / delivered /
  failed / paused, ``due_at`` (next attempt, or the end of a worker's lease), ``pending_for`` (the
  subscription id while pending, absent otherwise: the indexed field the retry poller reads).
* ``webhook_attempts``: one document per failed attempt (status code, latency, response excerpt, error) —
  separate documents because nx-27017 cannot ``$push`` sub-documents; the successful attempt is the
  delivery's own ``last_*`` fields (one write fewer per delivery in the common case).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from claystream_common.mongo import insert_new
from pymongo import ASCENDING, DESCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from claystream_annotate.services.errors import Invalid


class MongoWebhookSubscriptions:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._subs = db["webhook_subscriptions"]

    async def ensure_indexes(self) -> None:
        await self._subs.create_index([("dedupe_key", ASCENDING)], unique=True, name="dedupe_key")
        await self._subs.create_index([("workspace", ASCENDING)], name="workspace")

    async def insert(self, document: dict[str, Any]) -> None:
        try:
            await self._subs.insert_one(document)
        except DuplicateKeyError:
            raise Invalid("url", "this workspace already has a subscription for this URL") from None

    async def get(self, subscription_id: str) -> dict[str, Any] | None:
        return await self._subs.find_one({"_id": subscription_id})

    async def list(self, workspace: str) -> list[dict[str, Any]]:
        return sorted([d async for d in self._subs.find({"workspace": workspace})], key=lambda d: d["created_at"])

    async def all_enabled(self) -> list[dict[str, Any]]:
        return [d async for d in self._subs.find({"enabled": True})]

    async def update(self, subscription_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        try:
            await self._subs.update_one({"_id": subscription_id}, {"$set": changes})
        except DuplicateKeyError:
            raise Invalid("url", "this workspace already has a subscription for this URL") from None
        return await self.get(subscription_id)

    async def delete(self, subscription_id: str) -> bool:
        return (await self._subs.delete_one({"_id": subscription_id})).deleted_count == 1

    async def record_health(self, updates: dict[str, dict[str, Any]]) -> None:
        """Per subscription: ``{"$set": ..., "$inc": ...}`` gathered over a batch of attempts."""
        operations = [UpdateOne({"_id": sid}, update) for sid, update in updates.items() if update]
        if operations:
            await self._subs.bulk_write(operations, ordered=False)

    async def disable(self, subscription_id: str, *, reason: str, at: datetime) -> None:
        await self._subs.update_one(
            {"_id": subscription_id, "enabled": True}, {"$set": {"enabled": False, "disabled_reason": reason, "disabled_at": at.isoformat()}}
        )


class MongoWebhookDeliveries:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._deliveries = db["webhook_deliveries"]
        self._attempts = db["webhook_attempts"]

    async def ensure_indexes(self) -> None:
        # nx-27017 uses an index for an equality filter only when the index name ends with the field
        await self._deliveries.create_index([("pending_for", ASCENDING)], name="pending_for", sparse=True)
        await self._deliveries.create_index(
            [("created_at", DESCENDING), ("subscription_id", ASCENDING)], name="created_at_subscription_id"
        )
        await self._attempts.create_index([("delivery_id", ASCENDING)], name="delivery_id")

    async def insert_new(self, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert deliveries; those already there (a re-read event) are left alone.  Returns the new ones."""
        return await insert_new(self._deliveries, documents)

    async def claim_due(
        self, subscription_id: str, *, now: datetime, lease_until: datetime, token: str, limit: int, exclude: frozenset[str] = frozenset()
    ) -> list[dict[str, Any]]:
        """Pending deliveries of one subscription whose time has come (oldest first, ``exclude`` left
        out), claimed until ``lease_until``: another replica's claim of the same one fails its filter."""
        candidates = [
            d["_id"]
            async for d in self._deliveries.find({"pending_for": subscription_id}, {"due_at": 1})
            if d["_id"] not in exclude and float(d.get("due_at") or 0) <= now.timestamp()
        ]
        if not candidates:
            return []
        ids = sorted(candidates)[: max(limit, 0)]
        operations = [
            UpdateOne(
                {"_id": i, "pending_for": subscription_id, "due_at": {"$lte": now.timestamp()}},
                {"$set": {"due_at": lease_until.timestamp(), "claim": token}},
            )
            for i in ids
        ]
        await self._deliveries.bulk_write(operations, ordered=False)
        return [d async for d in self._deliveries.find({"_id": {"$in": ids}, "claim": token, "pending_for": subscription_id})]

    async def record(self, delivery_updates: list[tuple[str, dict[str, Any]]], attempts: list[dict[str, Any]]) -> None:
        if attempts:
            await self._attempts.bulk_write([InsertOne(a) for a in attempts], ordered=False)
        if delivery_updates:
            await self._deliveries.bulk_write([UpdateOne({"_id": i}, u) for i, u in delivery_updates], ordered=False)

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        return await self._deliveries.find_one({"_id": delivery_id})

    async def recent(self, subscription_id: str, limit: int = 50) -> list[dict[str, Any]]:
        cursor = self._deliveries.find({"subscription_id": subscription_id}, {"body": 0}).sort("created_at", DESCENDING).limit(limit)
        return [d async for d in cursor]

    async def attempts(self, delivery_id: str) -> list[dict[str, Any]]:
        return sorted([a async for a in self._attempts.find({"delivery_id": delivery_id})], key=lambda a: a["attempt"])

    async def pause_pending(self, subscription_id: str) -> None:
        await self._deliveries.update_many(
            {"pending_for": subscription_id}, {"$set": {"status": "paused"}, "$unset": {"pending_for": ""}}
        )

    async def resume_paused(self, subscription_id: str, *, now: datetime) -> None:
        await self._deliveries.update_many(
            {"subscription_id": subscription_id, "status": "paused"},
            {"$set": {"status": "pending", "pending_for": subscription_id, "due_at": now.timestamp()}},
        )

    async def delete_for(self, subscription_id: str) -> None:
        await self._deliveries.delete_many({"subscription_id": subscription_id})
        await self._attempts.delete_many({"subscription_id": subscription_id})
