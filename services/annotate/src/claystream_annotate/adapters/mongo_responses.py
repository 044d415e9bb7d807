"""Responses in MongoDB (``responses``; ``_id`` = ``<record_id>:<user_id>``) with their outbox.

``outbox`` holds encoded envelopes (strings: scalars only, nx-27017 safe) written in the same
single-document write as the state; ``outbox_pending`` marks documents the relay must visit.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from typing import Any

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from claystream_common.mongo import stored_datetime

from claystream_annotate.services.ports import ResponseDoc

_FIELDS = ("record_id", "dataset_id", "workspace", "user_id", "status", "values", "version", "updated_at", "outbox")


def _doc(document: dict[str, Any]) -> ResponseDoc:
    values = {name: document.get(name) for name in _FIELDS[:-1]}
    values["updated_at"] = stored_datetime(values["updated_at"])  # an update's date, as the embedded store keeps it
    return ResponseDoc(id=document["_id"], **values, outbox=list(document.get("outbox") or []))


def _document(response: ResponseDoc) -> dict[str, Any]:
    document = asdict(response)
    document["_id"] = document.pop("id")
    document["outbox_pending"] = bool(response.outbox)
    return document


def _append(response: ResponseDoc) -> dict[str, Any]:
    state = _document(response)
    state.pop("_id")
    events = state.pop("outbox")
    return {"$set": state, "$push": {"outbox": {"$each": events}}}


class MongoResponseStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._responses = db["responses"]

    async def ensure_indexes(self) -> None:
        # single-field indexes: nx-27017 keeps an equality sargable only on an index whose
        # name ends with the field (see mongo_records.py)
        for field in ("user_id", "dataset_id", "record_id", "outbox_pending"):
            await self._responses.create_index([(field, ASCENDING)])

    async def get(self, response_id: str) -> ResponseDoc | None:
        document = await self._responses.find_one({"_id": response_id})
        return _doc(document) if document else None

    async def get_many(self, response_ids: Sequence[str]) -> list[ResponseDoc]:
        if not response_ids:
            return []
        return [_doc(d) async for d in self._responses.find({"_id": {"$in": list(response_ids)}})]

    async def insert(self, response: ResponseDoc) -> bool:
        try:
            await self._responses.insert_one(_document(response))
        except DuplicateKeyError:
            return False
        return True

    async def update_if_version(self, response: ResponseDoc, expected_version: int) -> bool:
        """Write the new state and append its events to the outbox (never rewriting the envelopes
        already there: the relay may be publishing them right now)."""
        result = await self._responses.update_one({"_id": response.id, "version": expected_version}, _append(response))
        return result.matched_count == 1

    async def write_many_if_version(self, changes: Sequence[tuple[ResponseDoc, int | None]]) -> list[str]:
        """One bulk write of optimistic updates (version-guarded) and inserts; a bulk result has no
        per-operation outcome, so each write carries a token that is read back to tell who lost."""
        if not changes:
            return []
        token = uuid.uuid4().hex
        operations: list[Any] = []
        for response, expected in changes:
            if expected is None:
                operations.append(InsertOne({**_document(response), "writer": token}))
            else:
                update = _append(response)
                update["$set"]["writer"] = token
                operations.append(UpdateOne({"_id": response.id, "version": expected}, update))
        try:
            await self._responses.bulk_write(operations, ordered=False)
        except BulkWriteError as error:
            if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                raise
        ids = [response.id for response, _ in changes]
        won = {d["_id"] async for d in self._responses.find({"_id": {"$in": ids}}, {"writer": 1}) if d.get("writer") == token}
        return [i for i in ids if i not in won]

    async def for_records(self, record_ids: Sequence[str]) -> list[ResponseDoc]:
        if not record_ids:
            return []
        return [_doc(d) async for d in self._responses.find({"record_id": {"$in": list(record_ids)}}, {"outbox": 0})]

    async def scan_dataset(self, dataset_id: str, *, batch_size: int = 2000) -> AsyncIterator[list[ResponseDoc]]:
        batch: list[ResponseDoc] = []
        async for document in self._responses.find({"dataset_id": dataset_id}, {"outbox": 0}).batch_size(batch_size):
            batch.append(_doc(document))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    async def answered_by(self, dataset_id: str, user_id: str) -> list[str]:
        cursor = self._responses.find({"user_id": user_id}, {"record_id": 1, "dataset_id": 1})
        return [d["record_id"] async for d in cursor if d.get("dataset_id") == dataset_id]

    async def with_pending_outbox(self, limit: int) -> list[ResponseDoc]:
        """In ``_id`` order, so passes are deterministic (a bad entry is quarantined, never re-read)."""
        return [_doc(d) async for d in self._responses.find({"outbox_pending": True}).sort("_id", ASCENDING).limit(limit)]

    async def clear_outboxes(self, published: Sequence[ResponseDoc]) -> int:
        """Pull the published envelopes (events appended meanwhile stay), then leave the relay's
        list when nothing is left: one ordered bulk write for the whole batch."""
        if not published:
            return 0
        operations = []
        for doc in published:
            operations.append(UpdateOne({"_id": doc.id}, {"$pull": {"outbox": {"$in": list(doc.outbox)}}}))
            operations.append(UpdateOne({"_id": doc.id, "outbox": {"$size": 0}}, {"$set": {"outbox_pending": False}}))
        result = await self._responses.bulk_write(operations, ordered=True)
        return result.modified_count

    async def pending_count(self) -> int:
        return await self._responses.count_documents({"outbox_pending": True})

    async def delete_for_records(self, record_ids: Sequence[str]) -> int:
        if not record_ids:
            return 0
        result = await self._responses.delete_many({"record_id": {"$in": list(record_ids)}})
        return result.deleted_count

    async def delete_dataset(self, dataset_id: str) -> int:
        result = await self._responses.delete_many({"dataset_id": dataset_id})
        return result.deleted_count
