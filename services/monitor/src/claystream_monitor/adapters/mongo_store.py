"""MongoDB storage of the monitor (its own ``monitor_*`` collections, TTL-expired).

Predictions are stored with the bucket pattern (one document per consumer batch and model,
parallel arrays of scalars) so a 5,000 events/s stream costs a few writes per second; the join
by request id lives in the JoinIndex (Redis), not in array queries.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from claystream_common.mongo import insert_new
from pymongo import ASCENDING, DESCENDING, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from claystream_monitor.services.ports import ModelKey

COLLECTIONS = ("monitor_checkpoints", "monitor_models", "monitor_references", "monitor_predictions", "monitor_traffic", "monitor_windows",
               "monitor_alerts", "monitor_feedback", "monitor_samples")


class MongoMonitorStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, retention_s: float) -> None:
        self.db = db
        self.retention_s = int(retention_s)
        self.models = db["monitor_models"]
        self.references = db["monitor_references"]
        self.predictions = db["monitor_predictions"]
        self.traffic = db["monitor_traffic"]
        self.windows = db["monitor_windows"]
        self.alerts = db["monitor_alerts"]
        self.feedback = db["monitor_feedback"]
        self.samples = db["monitor_samples"]
        self.checkpoints = db["monitor_checkpoints"]
        self._last_seen_written: dict[str, float] = {}

    async def ensure_indexes(self) -> None:
        ttl = self.retention_s
        await self.predictions.create_index([("created_at", ASCENDING)], expireAfterSeconds=ttl)
        await self.traffic.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
        await self.traffic.create_index([("model_key", ASCENDING)])
        await self.windows.create_index([("at", ASCENDING)], expireAfterSeconds=ttl)
        await self.windows.create_index([("model_key", ASCENDING)])
        await self.alerts.create_index([("at", ASCENDING)], expireAfterSeconds=ttl)
        await self.alerts.create_index([("model_key", ASCENDING)])
        await self.feedback.create_index([("at", ASCENDING)], expireAfterSeconds=ttl)
        await self.samples.create_index([("at", ASCENDING)], expireAfterSeconds=ttl)
        await self.samples.create_index([("model_key", ASCENDING)])

    # ------------------------------------------------------------------ model state
    async def load_model_state(self, key: ModelKey) -> dict[str, Any] | None:
        model = await self.models.find_one({"_id": key.id})
        reference = await self.references.find_one({"_id": key.id})
        if model is None and reference is None:
            return None
        state = dict(model or {})
        if reference is not None:
            state["reference"] = reference
        return state

    async def save_reference(self, key: ModelKey, reference: dict[str, Any]) -> None:
        await self.references.replace_one({"_id": key.id}, {"_id": key.id, **key.as_dict(), **reference}, upsert=True)
        await self.register_model(key, {"reference_ready_at": datetime.now(UTC), "reference_source": reference["source"]})

    async def save_alert_states(self, key: ModelKey, states: dict[str, Any]) -> None:
        await self.register_model(key, {"alert_states": states})

    async def register_model(self, key: ModelKey, fields: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        await self.models.update_one(
            {"_id": key.id},
            {"$set": {**key.as_dict(), **fields, "updated_at": now}},
            upsert=True,
        )

    async def drop_model(self, workspace: str | None, model: str) -> int:
        """Every document of every monitor collection about ``model`` in ``workspace`` (a deleted dataset)."""
        dropped = 0
        for name in COLLECTIONS:
            dropped += (await self.db[name].delete_many({"workspace": workspace, "model": model})).deleted_count
        # unmatched feedback names only its model (no workspace): drop it when no other workspace has that model
        if not await self.models.find_one({"model": model}, {"_id": 1}):
            dropped += (await self.feedback.delete_many({"model": model})).deleted_count
        self._last_seen_written = {k: v for k, v in self._last_seen_written.items()
                                   if not k.startswith(f"{workspace or '-'}|{model}|")}
        return dropped

    # ------------------------------------------------------------------ hot path
    async def store_predictions(self, key: ModelKey, batch: dict[str, list[Any]]) -> None:
        first = batch["event_ids"][0] if batch.get("event_ids") else str(uuid.uuid4())
        document = {"_id": f"{key.id}|{first}", **key.as_dict(), "model_key": key.id, "count": len(batch["request_ids"]),
                    "created_at": datetime.now(UTC), **batch}
        try:
            await self.predictions.insert_one(document)
        except DuplicateKeyError:
            pass  # the same batch redelivered

    # ------------------------------------------------------------------ window checkpoints (services/engine.py)
    async def load_checkpoint(self, key: ModelKey) -> dict[str, Any] | None:
        return await self.checkpoints.find_one({"_id": key.id})

    async def save_checkpoint(self, key: ModelKey, checkpoint: dict[str, Any], *, expected_seq: int) -> bool:
        """One write: window state + fence + traffic, only if nobody moved the sequence on since we read it."""
        if expected_seq == 0:
            try:
                await self.checkpoints.insert_one({"_id": key.id, "model_key": key.id, **key.as_dict(), **checkpoint})
            except DuplicateKeyError:
                return False
            return True
        result = await self.checkpoints.update_one({"_id": key.id, "seq": expected_seq}, {"$set": checkpoint})
        return result.matched_count == 1

    async def add_traffic(self, key: ModelKey, buckets: dict[str, dict[str, float]], *, seq: int | None = None) -> None:
        """``seq``: the checkpoint these increments belong to; a bucket applies each sequence number once."""
        if not buckets:
            return
        if time.monotonic() - self._last_seen_written.get(key.id, -1e9) > 30:  # at most one write per 30 s
            self._last_seen_written[key.id] = time.monotonic()
            await self.register_model(key, {"last_seen": datetime.now(UTC)})
        operations: list[UpdateOne] = []
        for start, counts in buckets.items():
            # create first, then $inc on the existing document: nx-27017 stores dotted $inc paths of an upsert
            # literally ("labels.x"), and turns datetimes $set on an existing document into strings
            begins = datetime.fromtimestamp(int(start), UTC)
            bucket_id = f"{key.id}|{start}"
            operations.append(UpdateOne(
                {"_id": bucket_id},
                {"$setOnInsert": {**key.as_dict(), "model_key": key.id, "start_s": int(start), "labels": {}, "true_labels": {},
                                  "applied_seq": 0, "expires_at": begins + timedelta(seconds=self.retention_s)}},
                upsert=True,
            ))
            if seq is None:
                operations.append(UpdateOne({"_id": bucket_id}, {"$inc": counts}))
            else:  # exactly once per checkpoint, also when a replica replays the last checkpoint's traffic
                operations.append(UpdateOne({"_id": bucket_id, "applied_seq": {"$lt": seq}},
                                            {"$inc": counts, "$set": {"applied_seq": seq}}))
        await self.traffic.bulk_write(operations, ordered=True)

    async def store_evaluations(self, key: ModelKey, evaluations: list[dict[str, Any]]) -> None:
        """By name (services/alerts.py): a retried batch finds the same documents already there."""
        await insert_new(self.windows, evaluations)

    async def store_alerts(self, alerts: list[dict[str, Any]]) -> None:
        await insert_new(self.alerts, [{**a, "_id": a["event_id"]} for a in alerts])

    async def store_feedback(self, feedback: list[dict[str, Any]]) -> None:
        if feedback:
            await self.feedback.bulk_write([ReplaceOne({"_id": f["_id"]}, f, upsert=True) for f in feedback], ordered=False)

    async def sent_sample_ids(self, key: ModelKey, sample_ids: list[str]) -> set[str]:
        if not sample_ids:
            return set()
        found = await self.samples.find({"_id": {"$in": sample_ids}, "status": "sent"}, {"_id": 1}).to_list(None)
        return {doc["_id"] for doc in found}

    async def store_samples(self, samples: list[dict[str, Any]]) -> None:
        if samples:
            try:
                await self.samples.bulk_write([ReplaceOne({"_id": s["_id"]}, s, upsert=True) for s in samples], ordered=False)
            except BulkWriteError as error:  # pragma: no cover - concurrent duplicates only
                if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                    raise

    # ------------------------------------------------------------------ reads (API, dashboard)
    async def list_models(self, workspace: str | None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {} if workspace is None else {"workspace": workspace}
        docs = await self.models.find(query, {"alert_states": 1, "workspace": 1, "model": 1, "model_version": 1,
                                              "champion": 1, "last_seen": 1, "reference_ready_at": 1,
                                              "reference_source": 1, "promoted_at": 1}).to_list(500)
        return sorted(docs, key=lambda d: (d.get("model") or "", str(d.get("model_version") or "")))

    async def model_traffic(self, key_id: str, *, since: datetime) -> list[dict[str, Any]]:
        docs = await self.traffic.find({"model_key": key_id, "start_s": {"$gte": int(since.timestamp())}}).to_list(5000)
        for doc in docs:
            doc["start"] = datetime.fromtimestamp(int(doc["start_s"]), UTC)
        return sorted(docs, key=lambda d: d["start_s"])

    async def recent_windows(self, key_id: str, *, limit: int) -> list[dict[str, Any]]:
        return await self.windows.find({"model_key": key_id}).sort("at", DESCENDING).limit(limit).to_list(limit)

    async def recent_alerts(self, key_id: str, *, limit: int) -> list[dict[str, Any]]:
        return await self.alerts.find({"model_key": key_id}).sort("at", DESCENDING).limit(limit).to_list(limit)

    async def recent_samples(self, key_id: str, *, limit: int) -> list[dict[str, Any]]:
        return await self.samples.find({"model_key": key_id}).sort("at", DESCENDING).limit(limit).to_list(limit)

    async def prediction_count(self, key_id: str) -> int:
        docs = await self.predictions.find({"model_key": key_id}, {"count": 1}).to_list(None)
        return sum(int(d.get("count", 0)) for d in docs)


def window_start(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)
