"""The annotation queue: the next pending record for a user, leased so others skip it.

Order: records with a trainer priority first (higher first), then by arrival.  The ordered
queue, the per-user answered sets and the leases live in Redis (rebuilt from MongoDB when
missing), so "next" costs a few Redis round trips and one MongoDB read by ``_id``.
With ``min_submitted == 1`` a lease is exclusive (two annotators never hold the same record);
with N > 1 several annotators may work on a record at once, each at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claystream_common.datasets import DatasetSpec

from claystream_annotate.services.ports import QueueStore, RecordStore, ResponseStore
from claystream_annotate.services.principals import Principal, Role

MAX_STALE = 20


def queue_score(priority: float | None, seq: float) -> float:
    """Lower is served first: prioritised records (≤ -1, higher priority first) before arrivals (seq ≥ 0)."""
    if priority is None:
        return float(seq)
    return -1.0 - max(float(priority), 0.0)


@dataclass(frozen=True, slots=True)
class Claim:
    """How the caller's next record is claimed: lease length, exclusive leases (``min_submitted == 1``),
    and how many queue entries one window of the claim script looks at."""

    ttl_s: int = 300
    exclusive: bool = True
    scan: int = 64

    @classmethod
    def for_dataset(cls, spec: DatasetSpec, *, lease_ttl_s: int = 300, scan: int = 64) -> Claim:
        return cls(ttl_s=lease_ttl_s, exclusive=spec.min_submitted == 1, scan=scan)


async def ensure_loaded(spec: DatasetSpec, user_id: str, *, records: RecordStore, responses: ResponseStore, queue: QueueStore) -> None:
    """The dataset's queue and the user's answered set are in Redis (rebuilt from MongoDB when missing)."""
    await queue.ensure_built(spec.id, lambda: records.queue_entries(spec.id))
    await queue.ensure_answered_loaded(spec.id, user_id, lambda: responses.answered_by(spec.id, user_id))


async def serve_claimed(
    record_id: str | None, *, spec: DatasetSpec, user_id: str, claim: Claim, records: RecordStore, queue: QueueStore
) -> dict[str, Any] | None:
    """The record just claimed for the user, or None when the queue had nothing left for them.  A stale
    queue entry (the record deleted or completed meanwhile) is dropped and the next one claimed."""
    for _ in range(MAX_STALE):
        if record_id is None:
            return None
        record = await records.get(record_id)
        if record is not None and record.get("dataset_id") == spec.id and record.get("status") != "completed":
            return record
        await queue.remove(spec.id, [record_id])
        await queue.release(spec.id, record_id, user_id)
        record_id = await queue.claim_next(spec.id, user_id, ttl_s=claim.ttl_s, exclusive=claim.exclusive, scan=claim.scan)
    return None


async def next_record(
    *,
    actor: Principal,
    spec: DatasetSpec,
    records: RecordStore,
    responses: ResponseStore,
    queue: QueueStore,
    lease_ttl_s: int = 300,
    scan: int = 64,
) -> dict[str, Any] | None:
    """The record the caller should label now (leased to them), or None when nothing is left.

    Asking again before answering returns the same record (the lease is re-entrant and renewed).
    """
    actor.require(spec.workspace, Role.ANNOTATOR)
    user = actor.user_id
    await ensure_loaded(spec, user, records=records, responses=responses, queue=queue)
    claim = Claim.for_dataset(spec, lease_ttl_s=lease_ttl_s, scan=scan)
    first = await queue.claim_next(spec.id, user, ttl_s=claim.ttl_s, exclusive=claim.exclusive, scan=claim.scan)
    return await serve_claimed(first, spec=spec, user_id=user, claim=claim, records=records, queue=queue)


async def release_lease(*, actor: Principal, spec: DatasetSpec, record_id: str, queue: QueueStore) -> None:
    """Give a leased record back (the user moved away without answering)."""
    actor.require(spec.workspace, Role.ANNOTATOR)
    await queue.release(spec.id, record_id, actor.user_id)
