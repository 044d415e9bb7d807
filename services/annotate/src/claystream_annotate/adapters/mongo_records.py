"""Records in MongoDB: idempotent bulk upserts keyed by record id.

Document: ``{_id, dataset_id, workspace, dataset, external_id, fields, metadata,
suggestions: {question: {value, score, agent, model_version, scores}}, priority, seq,
status: pending|completed, submitted_by: [user ids], user_status: {user_id: status},
updated_at}``.  ``seq`` is the arrival time (microseconds since the epoch, plus the position in its
batch), so an insert stores no dates of its own: ``updated_at`` appears with the first update.  Two
datetimes cost nx-27017 a quarter of its CPU per inserted record (a deepcopy through ``__reduce_ex__``
and a JSON ``default`` each), docs/PERFORMANCE.md section 1.

Only one secondary index is kept at insert time, ``(seq, dataset_id)``: listing, export and queue
rebuilds walk it in arrival order; everything hot (queue, counters) is served from Redis.  Why that
key order: nx-27017 keeps an equality on a field sargable only when an index *name* ends with that
field (otherwise it adds an array-containment ``OR`` that forces a full scan), so
``idx_records_seq_dataset_id`` serves ``{dataset_id: X}`` sorted by ``seq`` in ~5 ms at 100k records
instead of ~800 ms.
Filters are kept flat (no ``$and`` / ``$or``), which nx-27017 would evaluate in Python.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from claystream_common.mongo import insert_new
from pymongo import ASCENDING, InsertOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from claystream_annotate.services.ports import StoredBatch
from claystream_annotate.services.queue import queue_score

QUEUE_PROJECTION = {"_id": 1, "priority": 1, "seq": 1}
RESENT_KEYS = ("fields", "metadata", "external_id", "origin", "vectors", "ingest_event_id", "ingest_at")


def newer_send(record: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether ``record`` comes from a later send than the stored one.  The same send (its event id) never is; an
    insert stores no ``ingest_at`` (a field per record costs the embedded store), so the first send after it is."""
    if record.get("ingest_event_id") is not None and record.get("ingest_event_id") == stored.get("ingest_event_id"):
        return False
    sent, before = record.get("ingest_at"), stored.get("ingest_at")
    return sent is None or before is None or sent > before


def resent_changes(record: dict[str, Any]) -> dict[str, Any]:
    """What a newer send replaces: its fields, metadata and vectors, and the suggestions of the questions it names."""
    changes = {key: record[key] for key in RESENT_KEYS if key in record}
    return changes | {f"suggestions.{question}": value for question, value in (record.get("suggestions") or {}).items()}


def new_seq(offset: int = 0) -> int:
    """Arrival order: microseconds since the epoch (+ the position in a batch); exact in a double."""
    return time.time_ns() // 1000 + offset


class MongoRecordRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._records = db["records"]

    async def ensure_indexes(self) -> None:
        await self._records.create_index([("seq", ASCENDING), ("dataset_id", ASCENDING)])

    async def upsert_many(self, records: list[dict[str, Any]]) -> StoredBatch:
        """Insert new records (fast path: one insert_many).  A record sent again replaces its fields, metadata,
        vectors and the suggestions of the questions it names, but only when its send is newer than the one stored
        (``ingest_at``): a redelivery, or a dead letter replayed after a newer send, never rolls a record back nor
        overwrites what models suggested since.  Returns the ids that were new and the queue entries of every record
        of the batch that is still pending (re-sent ones read back: a redelivery must queue what a crash left out)."""
        if not records:
            return StoredBatch()
        base = new_seq()
        documents = []
        for offset, record in enumerate(records):
            document = {
                "status": "pending",
                "submitted_by": [],  # nx-27017: $addToSet does nothing on a missing field
                **{key: value for key, value in record.items() if key != "ingest_at"},  # written by re-sends only
                "seq": base + offset,
            }
            documents.append(document)
        inserted = await insert_new(self._records, documents)
        pending = [(d["_id"], queue_score(None, d["seq"])) for d in inserted]
        if len(inserted) == len(documents):
            return StoredBatch(new=[d["_id"] for d in inserted], pending=pending)
        new_ids = {d["_id"] for d in inserted}
        resent = [records[i] for i, d in enumerate(documents) if d["_id"] not in new_ids]
        projection = {**QUEUE_PROJECTION, "status": 1, "ingest_at": 1, "ingest_event_id": 1}
        stored = {d["_id"]: d async for d in self._records.find({"_id": {"$in": [r["_id"] for r in resent]}}, projection)}
        now = datetime.now(UTC)
        updates = [UpdateOne({"_id": record["_id"]}, {"$set": resent_changes(record) | {"updated_at": now}})
                   for record in resent if record["_id"] in stored and newer_send(record, stored[record["_id"]])]
        if updates:
            await self._records.bulk_write(updates, ordered=False)
        pending += [(d["_id"], queue_score(d.get("priority"), d["seq"])) for d in stored.values() if d.get("status", "pending") == "pending"]
        return StoredBatch(new=[d["_id"] for d in inserted], pending=pending)

    async def insert_documents(self, documents: list[dict[str, Any]]) -> None:
        """Raw inserts (benchmarks and tools loading prepared documents)."""
        await self._records.bulk_write([InsertOne(d) for d in documents], ordered=False)

    async def get(self, record_id: str) -> dict[str, Any] | None:
        return await self._records.find_one({"_id": record_id})

    async def get_many(self, record_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not record_ids:
            return []
        found = {d["_id"]: d async for d in self._records.find({"_id": {"$in": list(record_ids)}})}
        return [found[r] for r in record_ids if r in found]

    async def traces(self, record_ids: Sequence[str]) -> dict[str, str]:
        if not record_ids:
            return {}
        cursor = self._records.find({"_id": {"$in": list(dict.fromkeys(record_ids))}}, {"trace": 1})
        return {d["_id"]: d["trace"] async for d in cursor if d.get("trace")}

    async def find(
        self, query: dict[str, Any], *, sort: list[tuple[str, int]], limit: int, projection: dict[str, int] | None = None
    ) -> list[dict[str, Any]]:
        return [d async for d in self._records.find(query, projection).sort(sort).limit(limit)]

    async def count(self, query: dict[str, Any]) -> int:
        return await self._records.count_documents(query)

    async def scan(
        self, query: dict[str, Any], *, batch_size: int = 1000, projection: dict[str, int] | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of records in arrival order, walking ``(dataset_id, seq)`` with a range cursor.

        ``seq`` is not unique (two replicas may stamp the same microsecond), so a page continues
        with ``$gte`` the last ``seq`` and drops the ids already yielded at that value: ties at a
        page boundary are never skipped, and a run of ties longer than a page still advances (the
        next read asks for that many more).  Flat filters only (nx-27017 runs ``$or`` in Python)."""
        if projection is not None and "seq" not in projection and all(projection.values()):
            projection = {**projection, "seq": 1}
        last_seq: int | None = None
        seen_at_last: set[Any] = set()
        while True:
            page_query = dict(query)
            if last_seq is not None:
                page_query["seq"] = {"$gte": last_seq}
            limit = batch_size + len(seen_at_last)
            cursor = self._records.find(page_query, projection).sort("seq", ASCENDING).limit(limit)
            fetched = [d async for d in cursor]
            page = [d for d in fetched if not (d["seq"] == last_seq and d["_id"] in seen_at_last)]
            if page:
                yield page
            if len(fetched) < limit or not page:
                return
            tail_seq = page[-1]["seq"]
            if tail_seq != last_seq:
                seen_at_last = set()
            seen_at_last.update(d["_id"] for d in page if d["seq"] == tail_seq)
            last_seq = tail_seq

    async def set_suggestions(self, items: list[tuple[str, str, dict[str, Any], float | None]]) -> int:
        """(record id, question, suggestion, priority) in one bulk write; returns how many matched."""
        if not items:
            return 0
        now = datetime.now(UTC)
        operations = []
        for record_id, question, suggestion, priority in items:
            changes: dict[str, Any] = {f"suggestions.{question}": suggestion, "updated_at": now}
            if priority is not None:
                changes["priority"] = priority
            operations.append(UpdateOne({"_id": record_id}, {"$set": changes}))
        result = await self._records.bulk_write(operations, ordered=False)
        return result.matched_count

    async def add_submitter(self, record_id: str, user_id: str) -> list[str]:
        document = await self._records.find_one_and_update(
            {"_id": record_id},
            {"$addToSet": {"submitted_by": user_id}},
            projection={"submitted_by": 1},
            return_document=ReturnDocument.AFTER,
        )
        return list(document.get("submitted_by", [])) if document else []

    async def remove_submitter(self, record_id: str, user_id: str) -> None:
        await self._records.update_one({"_id": record_id}, {"$pull": {"submitted_by": user_id}})

    async def set_user_status(self, record_ids: Sequence[str], user_id: str, status: str | None) -> None:
        if not record_ids:
            return
        update = {"$set": {f"user_status.{user_id}": status}} if status else {"$unset": {f"user_status.{user_id}": ""}}
        await self._records.update_many({"_id": {"$in": list(record_ids)}}, update)

    async def apply_response_effects(self, effects: Sequence[tuple[str, str, str, bool]]) -> None:
        """One bulk write for a batch of (record id, user id, response status, submitted?):
        the per-user status (filters) and the set of submitters."""
        if not effects:
            return
        now = datetime.now(UTC)
        operations = []
        for record_id, user_id, status, submitted in effects:
            update: dict[str, Any] = {"$set": {f"user_status.{user_id}": status, "updated_at": now}}
            update["$addToSet" if submitted else "$pull"] = {"submitted_by": user_id}
            operations.append(UpdateOne({"_id": record_id}, update))
        await self._records.bulk_write(operations, ordered=False)

    async def mark_completed_many(self, record_ids: Sequence[str]) -> int:
        """Set still-pending records completed; returns how many changed (for the counters)."""
        if not record_ids:
            return 0
        result = await self._records.update_many(
            {"_id": {"$in": list(record_ids)}, "status": "pending"},
            {"$set": {"status": "completed", "completed_at": datetime.now(UTC)}},
        )
        return result.modified_count

    async def mark_completed(self, record_id: str) -> bool:
        result = await self._records.update_one(
            {"_id": record_id, "status": "pending"}, {"$set": {"status": "completed", "completed_at": datetime.now(UTC)}}
        )
        return result.modified_count == 1

    async def progress_counts(self, dataset_id: str) -> dict[str, int]:
        """What the Redis counters hold, recounted (after Redis lost them)."""
        return {
            "records": await self._records.count_documents({"dataset_id": dataset_id}),
            "completed": await self._records.count_documents({"dataset_id": dataset_id, "status": "completed"}),
        }

    async def set_many(self, changes: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """(record id, {field: new value}) replaced in one bulk write; returns how many matched."""
        if not changes:
            return 0
        now = datetime.now(UTC)
        operations = [UpdateOne({"_id": record_id}, {"$set": {**values, "updated_at": now}}) for record_id, values in changes]
        result = await self._records.bulk_write(operations, ordered=False)
        return result.matched_count

    async def delete_many(self, record_ids: Sequence[str]) -> int:
        if not record_ids:
            return 0
        result = await self._records.delete_many({"_id": {"$in": list(record_ids)}})
        return result.deleted_count

    async def delete_dataset(self, dataset_id: str) -> int:
        result = await self._records.delete_many({"dataset_id": dataset_id})
        return result.deleted_count

    async def queue_entries(self, dataset_id: str) -> list[tuple[str, float]]:
        """(record id, queue score) of every pending record (queue rebuilds)."""
        entries: list[tuple[str, float]] = []
        query = {"dataset_id": dataset_id, "status": "pending"}
        async for page in self.scan(query, batch_size=5000, projection=QUEUE_PROJECTION):
            entries.extend((d["_id"], queue_score(d.get("priority"), d["seq"])) for d in page)
        return entries
