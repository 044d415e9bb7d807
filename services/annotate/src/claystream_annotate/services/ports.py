"""The ports the use cases talk to.  Real implementations live in ``adapters/``; unit tests use
in-memory fakes (``tests/unit/fakes.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass
class User:
    """``role`` is ``owner`` (global) or the highest role of ``memberships`` (workspace → role),
    which is what grants access; ``workspaces`` lists the memberships' workspaces (for queries)."""

    id: str
    username: str
    role: str
    workspaces: list[str]
    password_hash: str
    active: bool = True
    session_epoch: int = 0
    created_at: datetime | None = None
    memberships: dict[str, str] = field(default_factory=dict)
    ended_sessions: list[str] = field(default_factory=list)  # tags of sessions ended by logout


@dataclass
class ResponseDoc:
    """One user's answer to one record (``_id`` = ``<record_id>:<user_id>``)."""

    id: str
    record_id: str
    dataset_id: str
    workspace: str
    user_id: str
    status: str
    values: dict[str, Any]
    version: int
    updated_at: datetime
    outbox: list[str] = field(default_factory=list)  # encoded envelopes not yet published


@dataclass
class StoredBatch:
    """What ``RecordStore.upsert_many`` did with a batch: the ids inserted now (counters), and
    (id, queue score) of every record of the batch still pending, new or re-sent (the queue:
    membership is ensured for all of them, so a redelivered batch can never leave one out)."""

    new: list[str] = field(default_factory=list)
    pending: list[tuple[str, float]] = field(default_factory=list)


class UserStore(Protocol):
    async def get(self, user_id: str) -> User | None: ...
    async def by_username(self, username: str, *, any_case: bool = False) -> User | None:
        """``any_case``: "Owner" finds "owner" (new names must differ from every existing one in more than case)."""
    async def insert(self, user: User) -> None: ...
    async def update(self, user_id: str, changes: dict[str, Any]) -> bool: ...
    async def list(self, workspace: str | None = None) -> list[User]: ...
    async def any_owner(self) -> bool: ...


class ApiKeyStore(Protocol):
    async def get(self, key_id: str) -> dict[str, Any] | None: ...
    async def list(self, workspace: str) -> list[dict[str, Any]]: ...
    async def revoke(self, workspace: str, key_id: str) -> bool: ...


class WorkspaceStore(Protocol):
    async def create(self, name: str) -> bool: ...
    async def list(self) -> list[str]: ...
    async def exists(self, name: str) -> bool: ...


class LoginLimiter(Protocol):
    async def check(self, username: str, client_ip: str) -> int | None:
        """Seconds to wait when locked out or over the rate, else None."""

    async def failed(self, username: str, client_ip: str) -> None: ...
    async def succeeded(self, username: str, client_ip: str) -> None: ...


class PassLock(Protocol):
    """A lease across replicas (the outbox relay's pass): ``acquire`` without waiting, ``release`` what was held."""

    async def acquire(self) -> bool: ...
    async def release(self) -> None: ...


class DatasetStore(Protocol):
    async def insert(self, document: dict[str, Any]) -> None: ...
    async def get(self, workspace: str, name: str, *, fresh: bool = False) -> dict[str, Any] | None:
        """``fresh``: read the store, not a cached copy (an update reads what it changes)."""
    async def get_by_id(self, dataset_id: str) -> dict[str, Any] | None: ...
    async def list(self, workspaces: Sequence[str] | None) -> list[dict[str, Any]]: ...
    async def replace(self, document: dict[str, Any], *, expected_revision: int | None) -> bool:
        """Write ``document`` when the stored one still has ``expected_revision`` (None: none yet); False if not."""
    async def delete(self, dataset_id: str) -> bool: ...


class RecordStore(Protocol):
    async def upsert_many(self, records: list[dict[str, Any]]) -> StoredBatch: ...
    async def get(self, record_id: str) -> dict[str, Any] | None: ...
    async def get_many(self, record_ids: Sequence[str]) -> list[dict[str, Any]]: ...
    async def traces(self, record_ids: Sequence[str]) -> dict[str, str]:
        """Each record's own trace (the W3C traceparent of the send that created it), for those that have one."""
    async def find(
        self, query: dict[str, Any], *, sort: list[tuple[str, int]], limit: int, projection: dict[str, int] | None = None
    ) -> list[dict[str, Any]]: ...
    async def count(self, query: dict[str, Any]) -> int: ...
    def scan(
        self, query: dict[str, Any], *, batch_size: int = 1000, projection: dict[str, int] | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]: ...
    async def set_suggestions(self, items: list[tuple[str, str, dict[str, Any], float | None]]) -> int: ...
    async def add_submitter(self, record_id: str, user_id: str) -> list[str]: ...
    async def remove_submitter(self, record_id: str, user_id: str) -> None: ...
    async def set_user_status(self, record_ids: Sequence[str], user_id: str, status: str | None) -> None: ...
    async def mark_completed(self, record_id: str) -> bool: ...
    async def mark_completed_many(self, record_ids: Sequence[str]) -> int: ...
    async def apply_response_effects(self, effects: Sequence[tuple[str, str, str, bool]]) -> None: ...
    async def delete_dataset(self, dataset_id: str) -> int: ...
    async def set_many(self, changes: Sequence[tuple[str, dict[str, Any]]]) -> int: ...
    async def delete_many(self, record_ids: Sequence[str]) -> int: ...
    async def queue_entries(self, dataset_id: str) -> list[tuple[str, float]]: ...


class ResponseStore(Protocol):
    async def get(self, response_id: str) -> ResponseDoc | None: ...
    async def get_many(self, response_ids: Sequence[str]) -> list[ResponseDoc]: ...
    async def insert(self, response: ResponseDoc) -> bool:
        """False when one with this id exists already."""

    async def update_if_version(self, response: ResponseDoc, expected_version: int) -> bool:
        """Store the state when the version still matches; ``response.outbox`` is *appended*."""

    async def write_many_if_version(self, changes: Sequence[tuple[ResponseDoc, int | None]]) -> list[str]:
        """Store each state when the stored version is still the expected one (None: when there is
        none yet), appending its ``outbox``; returns the ids of those that lost to another writer."""
    async def for_records(self, record_ids: Sequence[str]) -> list[ResponseDoc]: ...
    def scan_dataset(self, dataset_id: str, *, batch_size: int = 2000) -> AsyncIterator[list[ResponseDoc]]: ...
    async def answered_by(self, dataset_id: str, user_id: str) -> list[str]: ...
    async def with_pending_outbox(self, limit: int) -> list[ResponseDoc]: ...
    async def clear_outboxes(self, published: Sequence[ResponseDoc]) -> int: ...
    async def pending_count(self) -> int: ...
    async def delete_dataset(self, dataset_id: str) -> int: ...
    async def delete_for_records(self, record_ids: Sequence[str]) -> int: ...


class QueueStore(Protocol):
    """The per-dataset ordered queue of pending records, per-user answered sets and leases."""

    async def ensure_built(self, dataset_id: str, load: Any) -> None: ...
    async def mark_built(self, dataset_id: str) -> None: ...
    async def add(self, dataset_id: str, entries: Sequence[tuple[str, float]], *, only_new: bool = True) -> None: ...
    async def rescore(self, dataset_id: str, entries: Sequence[tuple[str, float]]) -> None: ...
    async def remove(self, dataset_id: str, record_ids: Sequence[str]) -> None: ...
    async def size(self, dataset_id: str) -> int: ...
    async def ensure_answered_loaded(self, dataset_id: str, user_id: str, load: Any) -> None: ...
    async def claim_next(self, dataset_id: str, user_id: str, *, ttl_s: int, exclusive: bool, scan: int = 64) -> str | None:
        """Atomically pick and lease the caller's next record (their current one first)."""

    async def lease_state(self, dataset_id: str, user_id: str, record_id: str) -> tuple[bool, bool]:
        """(record is the caller's current lease, caller answered it)."""

    async def record_answered(self, dataset_id: str, user_id: str, record_ids: Sequence[str], *, dequeue: bool) -> None: ...
    async def answered_then_claim(
        self, dataset_id: str, user_id: str, record_id: str, *, dequeue: bool, ttl_s: int, exclusive: bool, scan: int = 64
    ) -> str | None:
        """``record_answered([record_id])`` then ``claim_next``, atomically in order (one round trip)."""

    async def release(self, dataset_id: str, record_id: str, user_id: str) -> None: ...
    async def drop(self, dataset_id: str) -> None: ...


@dataclass
class QuarantinedEvent:
    """An outbox entry the relay could not publish and set aside (``_id``: its event id, or a hash
    of the raw text when it does not decode), so the entries after it keep flowing."""

    id: str
    response_id: str
    record_id: str
    dataset_id: str
    workspace: str
    reason: str  # undecodable | oversize | rejected
    detail: str
    size: int
    raw: str
    event_type: str | None = None
    quarantined_at: datetime | None = None


class QuarantineStore(Protocol):
    async def add(self, entries: Sequence[QuarantinedEvent]) -> None:
        """Idempotent by id (a re-driven pass stores the same entry once)."""

    async def list(self, workspace: str, *, limit: int = 100) -> list[QuarantinedEvent]: ...
    async def count(self, workspace: str) -> int: ...


class Wakeable(Protocol):
    def wake(self) -> None: ...


class Counters(Protocol):
    """Per-dataset counters for progress bars (records, completed; per-user submitted)."""

    async def start(self, dataset_id: str) -> None:
        """Mark a new (empty) dataset's counters exact at zero, so they are never recounted."""

    async def incr(self, dataset_id: str, name: str, amount: int = 1) -> None: ...
    async def read(self, dataset_ids: Sequence[str]) -> dict[str, dict[str, int]]: ...
    async def drop(self, dataset_id: str) -> None: ...
