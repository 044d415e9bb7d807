"""In-memory fakes of the annotate ports (same contracts as the adapters, no servers)."""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from claystream_annotate.services.ports import ResponseDoc, StoredBatch, User
from claystream_annotate.services.queue import queue_score
from fakes_misc import FakeCounters, FakeDatasets, FakeModelEvents, FakeQuarantine, Wake  # noqa: F401 - one import place for tests


class FakeUsers:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}

    async def get(self, user_id: str) -> User | None:
        user = self.users.get(user_id)
        return replace(user) if user else None

    async def by_username(self, username: str, *, any_case: bool = False) -> User | None:
        same = (lambda u: u.username.lower() == username.lower()) if any_case else (lambda u: u.username == username)
        return next((replace(u) for u in self.users.values() if same(u)), None)

    async def insert(self, user: User) -> None:
        self.users[user.id] = replace(user)

    async def update(self, user_id: str, changes: dict[str, Any]) -> bool:
        if user_id not in self.users:
            return False
        self.users[user_id] = replace(self.users[user_id], **changes)
        return True

    async def list(self, workspace: str | None = None) -> list[User]:
        return [replace(u) for u in self.users.values() if workspace is None or workspace in u.workspaces]

    async def any_owner(self) -> bool:
        return any(u.role == "owner" for u in self.users.values())


class FakeWorkspaces:
    def __init__(self, *names: str) -> None:
        self.names = set(names)

    async def create(self, name: str) -> bool:
        if name in self.names:
            return False
        self.names.add(name)
        return True

    async def list(self) -> list[str]:
        return sorted(self.names)

    async def exists(self, name: str) -> bool:
        return name in self.names


class FakeLimiter:
    """Same rule as RedisLoginLimiter: lock a username+ip after ``max_failures``."""

    def __init__(self, max_failures: int = 3) -> None:
        self.max_failures = max_failures
        self.failures: dict[tuple[str, str], int] = {}

    async def check(self, username: str, client_ip: str) -> int | None:
        return 60 if self.failures.get((username.lower(), client_ip), 0) >= self.max_failures else None

    async def failed(self, username: str, client_ip: str) -> None:
        key = (username.lower(), client_ip)
        self.failures[key] = self.failures.get(key, 0) + 1

    async def succeeded(self, username: str, client_ip: str) -> None:
        self.failures.pop((username.lower(), client_ip), None)


class FakeRecords:
    """Records by id; ``find``/``scan`` support the flat equality filters the unit tests use."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.finds: list[dict[str, int] | None] = []  # the projection of every find (tests check what a search reads)
        self._seq = 0

    def add(self, record_id: str, dataset_id: str, **extra: Any) -> dict[str, Any]:
        self._seq += 1
        document = {"_id": record_id, "dataset_id": dataset_id, "status": "pending", "seq": self._seq, "fields": {"text": record_id}, **extra}
        self.documents[record_id] = document
        return document

    async def upsert_many(self, records: list[dict[str, Any]]) -> StoredBatch:
        stored = StoredBatch()
        for record in records:
            if record["_id"] in self.documents:
                document = self.documents[record["_id"]]
                sent, before = record.get("ingest_at"), document.get("ingest_at")
                same = record.get("ingest_event_id") is not None and record.get("ingest_event_id") == document.get("ingest_event_id")
                if not same and (sent is None or before is None or sent > before):  # only a newer send replaces (as the adapter)
                    document.update({k: record[k] for k in ("fields", "metadata", "external_id", "ingest_event_id", "ingest_at")
                                     if k in record})
                    document["suggestions"] = {**(document.get("suggestions") or {}), **(record.get("suggestions") or {})}
            else:
                document = self.add(record["_id"], record["dataset_id"],
                                    **{k: v for k, v in record.items() if k not in ("_id", "dataset_id", "ingest_at")})
                stored.new.append(document["_id"])
            if document["status"] == "pending":
                stored.pending.append((document["_id"], queue_score(document.get("priority"), document["seq"])))
        return stored

    async def get(self, record_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.documents.get(record_id))

    async def traces(self, record_ids: Sequence[str]) -> dict[str, str]:
        return {r: self.documents[r]["trace"] for r in record_ids if self.documents.get(r, {}).get("trace")}

    async def get_many(self, record_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.documents[r]) for r in record_ids if r in self.documents]

    def _match(self, document: dict[str, Any], query: dict[str, Any]) -> bool:
        for key, expected in query.items():
            value: Any = document
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(expected, dict):
                if "$exists" in expected and (value is not None) != expected["$exists"]:
                    return False
                if "$in" in expected and value not in expected["$in"]:
                    return False
                if "$gt" in expected and not (value is not None and value > expected["$gt"]):
                    return False
                if "$gte" in expected and not (value is not None and value >= expected["$gte"]):
                    return False
                if expected.get("$type") == "number" and not isinstance(value, int | float):
                    return False
                if "$lt" in expected and not (value is not None and value < expected["$lt"]):
                    return False
                if "$lte" in expected and not (value is not None and value <= expected["$lte"]):
                    return False
            elif value != expected:
                return False
        return True

    async def find(
        self, query: dict[str, Any], *, sort: list[tuple[str, int]], limit: int, projection: dict[str, int] | None = None
    ) -> list[dict[str, Any]]:
        matching = [d for d in self.documents.values() if self._match(d, query)]
        field, direction = sort[0]
        matching.sort(key=lambda d: d.get(field) if field == "seq" else 0, reverse=direction == -1)
        self.finds.append(projection)
        found = copy.deepcopy(matching[:limit])
        if projection is None:
            return found
        if not any(projection.values()):  # an exclusion projection, as MongoDB reads it
            return [{key: value for key, value in d.items() if key not in projection} for d in found]
        return [{key: value for key, value in d.items() if key in projection} for d in found]

    async def count(self, query: dict[str, Any]) -> int:
        return sum(1 for d in self.documents.values() if self._match(d, query))

    async def scan(self, query: dict[str, Any], *, batch_size: int = 1000, projection: dict[str, int] | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        matching = sorted((d for d in self.documents.values() if self._match(d, query)), key=lambda d: d["seq"])
        for start in range(0, len(matching), batch_size):
            yield copy.deepcopy(matching[start:start + batch_size])

    async def set_suggestions(self, items: list[tuple[str, str, dict[str, Any], float | None]]) -> int:
        matched = 0
        for record_id, question, suggestion, priority in items:
            if record_id in self.documents:
                matched += 1
                self.documents[record_id].setdefault("suggestions", {})[question] = suggestion
                if priority is not None:
                    self.documents[record_id]["priority"] = priority
        return matched

    async def add_submitter(self, record_id: str, user_id: str) -> list[str]:
        submitters = self.documents[record_id].setdefault("submitted_by", [])
        if user_id not in submitters:
            submitters.append(user_id)
        return list(submitters)

    async def remove_submitter(self, record_id: str, user_id: str) -> None:
        submitters = self.documents[record_id].setdefault("submitted_by", [])
        if user_id in submitters:
            submitters.remove(user_id)

    async def apply_response_effects(self, effects: Sequence[tuple[str, str, str, bool]]) -> None:
        for record_id, user_id, status, submitted in effects:
            if record_id not in self.documents:
                continue
            self.documents[record_id].setdefault("user_status", {})[user_id] = status
            await (self.add_submitter if submitted else self.remove_submitter)(record_id, user_id)

    async def set_user_status(self, record_ids: Sequence[str], user_id: str, status: str | None) -> None:
        for record_id in record_ids:
            self.documents[record_id].setdefault("user_status", {})[user_id] = status

    async def mark_completed(self, record_id: str) -> bool:
        return await self.mark_completed_many([record_id]) == 1

    async def mark_completed_many(self, record_ids: Sequence[str]) -> int:
        changed = 0
        for record_id in record_ids:
            if self.documents.get(record_id, {}).get("status") == "pending":
                self.documents[record_id]["status"] = "completed"
                changed += 1
        return changed

    async def delete_dataset(self, dataset_id: str) -> int:
        doomed = [k for k, d in self.documents.items() if d["dataset_id"] == dataset_id]
        for key in doomed:
            del self.documents[key]
        return len(doomed)

    async def queue_entries(self, dataset_id: str) -> list[tuple[str, float]]:
        return [(d["_id"], queue_score(d.get("priority"), d["seq"])) for d in self.documents.values()
                if d["dataset_id"] == dataset_id and d["status"] == "pending"]


class FakeResponses:
    def __init__(self) -> None:
        self.documents: dict[str, ResponseDoc] = {}

    async def get(self, response_id: str) -> ResponseDoc | None:
        doc = self.documents.get(response_id)
        return replace(doc, outbox=list(doc.outbox)) if doc else None

    async def get_many(self, response_ids: Sequence[str]) -> list[ResponseDoc]:
        return [replace(self.documents[r], outbox=list(self.documents[r].outbox)) for r in response_ids if r in self.documents]

    async def insert(self, response: ResponseDoc) -> bool:
        if response.id in self.documents:
            return False
        self.documents[response.id] = replace(response, outbox=list(response.outbox))
        return True

    async def update_if_version(self, response: ResponseDoc, expected_version: int) -> bool:
        current = self.documents.get(response.id)
        if current is None or current.version != expected_version:
            return False
        self.documents[response.id] = replace(response, outbox=current.outbox + response.outbox)
        return True

    async def write_many_if_version(self, changes: Sequence[tuple[ResponseDoc, int | None]]) -> list[str]:
        lost = []
        for response, expected in changes:
            stored = await self.insert(response) if expected is None else await self.update_if_version(response, expected)
            if not stored:
                lost.append(response.id)
        return lost

    async def for_records(self, record_ids: Sequence[str]) -> list[ResponseDoc]:
        return [replace(d, outbox=[]) for d in self.documents.values() if d.record_id in record_ids]

    async def scan_dataset(self, dataset_id: str, *, batch_size: int = 2000) -> AsyncIterator[list[ResponseDoc]]:
        docs = [replace(d, outbox=[]) for d in self.documents.values() if d.dataset_id == dataset_id]
        for start in range(0, len(docs), batch_size):
            yield docs[start:start + batch_size]

    async def answered_by(self, dataset_id: str, user_id: str) -> list[str]:
        return [d.record_id for d in self.documents.values() if d.dataset_id == dataset_id and d.user_id == user_id]

    async def with_pending_outbox(self, limit: int) -> list[ResponseDoc]:
        return [replace(d, outbox=list(d.outbox)) for _, d in sorted(self.documents.items()) if d.outbox][:limit]

    async def clear_outboxes(self, published: Sequence[ResponseDoc]) -> int:
        cleared = 0
        for doc in published:
            current = self.documents.get(doc.id)
            if current is not None:
                current.outbox = [e for e in current.outbox if e not in doc.outbox]
                cleared += not current.outbox
        return cleared

    async def pending_count(self) -> int:
        return sum(1 for d in self.documents.values() if d.outbox)

    async def delete_dataset(self, dataset_id: str) -> int:
        doomed = [k for k, d in self.documents.items() if d.dataset_id == dataset_id]
        for key in doomed:
            del self.documents[key]
        return len(doomed)


class FakeQueue:
    """Same semantics as RedisQueue's script: current record first, then the lowest score that the
    user has not answered and (when exclusive) nobody else holds."""

    def __init__(self) -> None:
        self.queues: dict[str, dict[str, float]] = {}
        self.answered: dict[tuple[str, str], set[str]] = {}
        self.leases: dict[tuple[str, str], tuple[str, float]] = {}
        self.current: dict[tuple[str, str], tuple[str, float]] = {}
        self.built: set[str] = set()
        self.loaded: set[tuple[str, str]] = set()
        self.now = time.monotonic

    async def ensure_built(self, dataset_id: str, load: Any) -> None:
        if dataset_id not in self.built:
            self.queues[dataset_id] = dict(await load())
            self.built.add(dataset_id)

    async def mark_built(self, dataset_id: str) -> None:
        self.built.add(dataset_id)

    async def add(self, dataset_id: str, entries: Sequence[tuple[str, float]], *, only_new: bool = True) -> None:
        queue = self.queues.setdefault(dataset_id, {})
        for record_id, score in entries:
            if not only_new or record_id not in queue:
                queue[record_id] = score

    async def rescore(self, dataset_id: str, entries: Sequence[tuple[str, float]]) -> None:
        queue = self.queues.setdefault(dataset_id, {})
        for record_id, score in entries:
            if record_id in queue:
                queue[record_id] = score

    async def remove(self, dataset_id: str, record_ids: Sequence[str]) -> None:
        for record_id in record_ids:
            self.queues.get(dataset_id, {}).pop(record_id, None)

    async def size(self, dataset_id: str) -> int:
        return len(self.queues.get(dataset_id, {}))

    async def ensure_answered_loaded(self, dataset_id: str, user_id: str, load: Any) -> None:
        if (dataset_id, user_id) not in self.loaded:
            self.answered.setdefault((dataset_id, user_id), set()).update(await load())
            self.loaded.add((dataset_id, user_id))

    def _alive(self, entry: tuple[str, float] | None) -> str | None:
        return entry[0] if entry is not None and entry[1] > self.now() else None

    def _take(self, dataset_id: str, record_id: str, user_id: str, ttl_s: int, exclusive: bool) -> bool:
        if exclusive:
            holder = self._alive(self.leases.get((dataset_id, record_id)))
            if holder not in (None, user_id):
                return False
            self.leases[(dataset_id, record_id)] = (user_id, self.now() + ttl_s)
        self.current[(dataset_id, user_id)] = (record_id, self.now() + ttl_s)
        return True

    async def claim_next(self, dataset_id: str, user_id: str, *, ttl_s: int, exclusive: bool, scan: int = 64) -> str | None:
        queue = self.queues.get(dataset_id, {})
        answered = self.answered.get((dataset_id, user_id), set())
        current = self._alive(self.current.get((dataset_id, user_id)))
        if current is not None and current not in answered and current in queue and self._take(dataset_id, current, user_id, ttl_s, exclusive):
            return current
        for record_id in sorted(queue, key=lambda r: queue[r]):
            if record_id not in answered and self._take(dataset_id, record_id, user_id, ttl_s, exclusive):
                return record_id
        return None

    async def lease_state(self, dataset_id: str, user_id: str, record_id: str) -> tuple[bool, bool]:
        current = self._alive(self.current.get((dataset_id, user_id)))
        return current == record_id, record_id in self.answered.get((dataset_id, user_id), set())

    async def record_answered(self, dataset_id: str, user_id: str, record_ids: Sequence[str], *, dequeue: bool) -> None:
        self.answered.setdefault((dataset_id, user_id), set()).update(record_ids)
        if dequeue:
            await self.remove(dataset_id, record_ids)
        if len(record_ids) == 1:
            await self.release(dataset_id, record_ids[0], user_id)

    async def answered_then_claim(
        self, dataset_id: str, user_id: str, record_id: str, *, dequeue: bool, ttl_s: int, exclusive: bool, scan: int = 64
    ) -> str | None:
        await self.record_answered(dataset_id, user_id, [record_id], dequeue=dequeue)
        return await self.claim_next(dataset_id, user_id, ttl_s=ttl_s, exclusive=exclusive, scan=scan)

    async def release(self, dataset_id: str, record_id: str, user_id: str) -> None:
        if self._alive(self.leases.get((dataset_id, record_id))) == user_id:
            del self.leases[(dataset_id, record_id)]
        if self._alive(self.current.get((dataset_id, user_id))) == record_id:
            del self.current[(dataset_id, user_id)]

    async def drop(self, dataset_id: str) -> None:
        self.queues.pop(dataset_id, None)
        self.built.discard(dataset_id)
