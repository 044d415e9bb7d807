"""The annotation queue: the next pending record for a user, leased so others skip it.

Order: records with a trainer priority first (higher first), then by arrival.  The ordered
queue, the per-user answered sets and the leases live in Redis (rebuilt from MongoDB when
missing), so "next" costs a few Redis round trips and one MongoDB read by ``_id``.
With ``min_submitted == 1`` a lease is exclusive (two annotators never hold the same record);
with N > 1 several annotators may work on a record at once, each at most once.
"""

from __future__ import annotations

from typing import Any

from claystream_annotate.services.ports import QueueStore, RecordStore, ResponseStore
from claystream_annotate.services.principals import Principal, Role
from claystream_common.datasets import DatasetSpec

MAX_WINDOWS = 50


def queue_score(priority: float | None, seq: float) -> float:
    """Lower is served first: prioritised records (≤ -1, higher priority first) before arrivals (seq ≥ 0)."""
    if priority is None:
        return float(seq)
    return -1.0 - max(float(priority), 0.0)


async def _ensure_loaded(spec: DatasetSpec, user_id: str, *, records: RecordStore, responses: ResponseStore, queue: QueueStore) -> None:
    await queue.ensure_built(spec.id, lambda: records.queue_entries(spec.id))
    await queue.ensure_answered_loaded(spec.id, user_id, lambda: responses.answered_by(spec.id, user_id))


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
    await _ensure_loaded(spec, user, records=records, responses=responses, queue=queue)
    exclusive = spec.min_submitted == 1
    current = await queue.current_lease(spec.id, user)
    if current is not None and not (await queue.answered_flags(spec.id, user, [current]))[0]:
        if await queue.try_lease(spec.id, current, user, lease_ttl_s, exclusive=exclusive):
            record = await records.get(current)
            if record is not None and record.get("dataset_id") == spec.id and record.get("status") != "completed":
                return record
    start = 0
    for _ in range(MAX_WINDOWS):
        ids = await queue.window(spec.id, start, scan)
        if not ids:
            return None
        answered = await queue.answered_flags(spec.id, user, ids)
        holders = await queue.lease_holders(spec.id, ids) if exclusive else [None] * len(ids)
        for record_id, done, holder in zip(ids, answered, holders, strict=True):
            if done or (holder is not None and holder != user):
                continue
            if not await queue.try_lease(spec.id, record_id, user, lease_ttl_s, exclusive=exclusive):
                continue
            record = await records.get(record_id)
            if record is None or record.get("dataset_id") != spec.id or record.get("status") == "completed":
                await queue.remove(spec.id, [record_id])
                await queue.release(spec.id, record_id, user)
                continue
            return record
        start += len(ids)
    return None


async def release_lease(*, actor: Principal, spec: DatasetSpec, record_id: str, queue: QueueStore) -> None:
    """Give a leased record back (the user moved away without answering)."""
    actor.require(spec.workspace, Role.ANNOTATOR)
    await queue.release(spec.id, record_id, actor.user_id)
