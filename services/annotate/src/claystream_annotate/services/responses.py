"""Responses: one per (record, user), saved together with their events (the outbox).

The response document is the unit of atomicity: the encoded ``response.*`` envelope is
appended to the document's ``outbox`` in the same single-document write as the new state,
so a crash can never keep the state and lose the event.  The relay (``outbox.py``) publishes
the events, applies the record-level effects (submitters, completion) and clears them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict, Unpack

from claystream_common.datasets import DatasetSpec
from claystream_common.events import ResponseChanged, encode_event, new_event
from claystream_common.telemetry import current_traceparent

from claystream_annotate.services.errors import Conflict, Invalid, NotFound
from claystream_annotate.services.ports import QueueStore, RecordStore, ResponseDoc, ResponseStore, Wakeable
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.queue import Claim, ensure_loaded, queue_score, serve_claimed
from claystream_annotate.services.validation import needs_record, validate_values

MAX_ATTEMPTS = 5
BULK_MAX = 10_000


def response_id(record_id: str, user_id: str) -> str:
    return f"{record_id}:{user_id}"


def event_type_for(status: str, previous: ResponseDoc | None) -> str:
    if status == "discarded":
        return "response.discarded"
    if status == "submitted" and (previous is None or previous.status != "submitted"):
        return "response.submitted"
    return "response.updated"


def _encoded_event(spec: DatasetSpec, doc: ResponseDoc, previous: ResponseDoc | None) -> str:
    data = ResponseChanged(
        response_id=doc.id,
        record_id=doc.record_id,
        user_id=doc.user_id,
        status=doc.status,  # type: ignore[arg-type]
        values=doc.values,
        previous_values=previous.values if previous is not None else None,
        version=doc.version,
    )
    event = new_event(
        event_type_for(doc.status, previous), data, dataset=spec.name, workspace=spec.workspace,
        traceparent=current_traceparent(),  # the relay publishes later, outside the request
    )
    return encode_event(event).decode()


def _next_doc(spec: DatasetSpec, record_id: str, user_id: str, status: str, values: dict[str, Any], previous: ResponseDoc | None) -> ResponseDoc:
    now = datetime.now(UTC)
    doc = ResponseDoc(
        id=response_id(record_id, user_id),
        record_id=record_id,
        dataset_id=spec.id,
        workspace=spec.workspace,
        user_id=user_id,
        status=status,
        values=values,
        version=(previous.version + 1) if previous else 1,
        updated_at=now,
    )
    doc.outbox = [_encoded_event(spec, doc, previous)]  # appended to what the stored outbox holds
    return doc


class ResponseStores(TypedDict):
    """What saving a response touches, passed by keyword to every use case here: the records (existence,
    span checks), the responses, the queue (leases, answered marks) and the outbox relay to wake."""

    records: RecordStore
    responses: ResponseStore
    queue: QueueStore
    relay: NotRequired[Wakeable | None]


async def save_response(
    *, actor: Principal, spec: DatasetSpec, record_id: str, status: str, values: dict[str, Any] | None,
    **stores: Unpack[ResponseStores],
) -> ResponseDoc:
    """Create or change the caller's response to a record (submitted / draft / discarded).

    Values are validated against the dataset's questions (Invalid names the question).
    An unchanged save is a no-op (no event).  Raises NotFound for a record outside the dataset.
    """
    saved, _ = await _save(actor, spec, record_id, status, values, stores, then_claim=None)
    return saved


async def _save(
    actor: Principal, spec: DatasetSpec, record_id: str, status: str, values: dict[str, Any] | None, stores: ResponseStores,
    *, then_claim: Claim | None,
) -> tuple[ResponseDoc, str | None]:
    """``save_response``; with ``then_claim``, also claims the caller's next record in the same Redis
    round trip that marks this one answered (returned second, None when nothing is left)."""
    records, responses, queue, relay = stores["records"], stores["responses"], stores["queue"], stores.get("relay")
    actor.require(spec.workspace, Role.ANNOTATOR)
    record: dict[str, Any] | None = None
    if needs_record(spec, values):  # e.g. span offsets are checked against the record's text
        record = await records.get(record_id)
        if record is None or record.get("dataset_id") != spec.id:
            raise NotFound(f"record {record_id} not found in dataset {spec.name}")
    cleaned = validate_values(spec, values, status, record=record)
    rid = response_id(record_id, actor.user_id)
    saved: ResponseDoc | None = None
    # Fast path: the record is the caller's leased one (so it is in this dataset) and they never
    # answered it: one insert, guarded by the unique _id (a duplicate falls back to the slow path).
    held, answered = await queue.lease_state(spec.id, actor.user_id, record_id)
    if held:
        if not answered:
            doc = _next_doc(spec, record_id, actor.user_id, status, cleaned, None)
            if await responses.insert(doc):
                saved = doc
    elif record is None:
        record = await records.get(record_id)
        if record is None or record.get("dataset_id") != spec.id:
            raise NotFound(f"record {record_id} not found in dataset {spec.name}")
    previous: ResponseDoc | None = None
    for _ in range(MAX_ATTEMPTS):
        if saved is not None:
            break
        previous = await responses.get(rid)
        if previous is not None and previous.status == status and previous.values == cleaned:
            saved = previous
            break
        doc = _next_doc(spec, record_id, actor.user_id, status, cleaned, previous)
        stored = await responses.insert(doc) if previous is None else await responses.update_if_version(doc, previous.version)
        if stored:
            saved = doc
    if saved is None:
        raise Conflict(f"response {rid} kept changing; try again")
    dequeue = status == "submitted" and spec.min_submitted == 1
    claimed: str | None = None
    if then_claim is None:
        await queue.record_answered(spec.id, actor.user_id, [record_id], dequeue=dequeue)
    else:
        claimed = await queue.answered_then_claim(
            spec.id, actor.user_id, record_id, dequeue=dequeue, ttl_s=then_claim.ttl_s, exclusive=then_claim.exclusive, scan=then_claim.scan,
        )
    if previous is not None and previous.status == "submitted" and status != "submitted" and record is not None:
        await queue.add(spec.id, [(record_id, queue_score(record.get("priority"), record["seq"]))])  # retracted
    if relay is not None and saved.outbox:
        relay.wake()
    return saved, claimed


async def answer_and_next(
    *, actor: Principal, spec: DatasetSpec, record_id: str, status: str, values: dict[str, Any] | None,
    lease_ttl_s: int = 300, scan: int = 64, **stores: Unpack[ResponseStores],
) -> tuple[ResponseDoc, dict[str, Any] | None]:
    """Answer a record and lease the caller's next one, as one step of the annotation loop (what the web
    UI's submit does): the saved response and the next record (None when nothing is left).  Marking the
    answer and claiming the next record share one Redis round trip."""
    actor.require(spec.workspace, Role.ANNOTATOR)
    records, queue = stores["records"], stores["queue"]
    await ensure_loaded(spec, actor.user_id, records=records, responses=stores["responses"], queue=queue)
    claim = Claim.for_dataset(spec, lease_ttl_s=lease_ttl_s, scan=scan)
    saved, claimed = await _save(actor, spec, record_id, status, values, stores, then_claim=claim)
    following = await serve_claimed(claimed, spec=spec, user_id=actor.user_id, claim=claim, records=records, queue=queue)
    return saved, following


async def get_response(*, actor: Principal, spec: DatasetSpec, record_id: str, user_id: str | None, responses: ResponseStore) -> ResponseDoc:
    """A response; annotators read only their own, admins anyone's."""
    actor.require(spec.workspace, Role.ANNOTATOR)
    user_id = user_id or actor.user_id
    if user_id != actor.user_id:
        actor.require(spec.workspace, Role.ADMIN)
    doc = await responses.get(response_id(record_id, user_id))
    if doc is None or doc.dataset_id != spec.id:
        raise NotFound(f"no response by {user_id} to record {record_id}")
    return doc


async def bulk_respond(
    *, actor: Principal, spec: DatasetSpec, record_ids: Sequence[str], status: str, values: dict[str, Any] | None,
    **stores: Unpack[ResponseStores],
) -> int:
    """Apply one answer to many records at once (bulk labelling).  Returns how many changed.

    Records outside the dataset are skipped.  Unchanged responses emit nothing.
    """
    records, responses, queue, relay = stores["records"], stores["responses"], stores["queue"], stores.get("relay")
    actor.require(spec.workspace, Role.ANNOTATOR)
    if len(record_ids) > BULK_MAX:
        raise Invalid("record_ids", f"at most {BULK_MAX} records per bulk request")
    cleaned = validate_values(spec, values, status)
    unique_ids = list(dict.fromkeys(record_ids))
    found = {r["_id"] for r in await records.get_many(unique_ids) if r.get("dataset_id") == spec.id}
    targets = [r for r in unique_ids if r in found]
    changed = 0
    pending = targets
    for _ in range(MAX_ATTEMPTS):  # optimistic, like single saves: a concurrent save is never overwritten blindly
        previous = {doc.record_id: doc for doc in await responses.get_many([response_id(r, actor.user_id) for r in pending])}
        writes: list[tuple[ResponseDoc, int | None]] = []
        for record_id in pending:
            before = previous.get(record_id)
            if before is not None and before.status == status and before.values == cleaned:
                continue
            writes.append((_next_doc(spec, record_id, actor.user_id, status, dict(cleaned), before), before.version if before else None))
        lost = set(await responses.write_many_if_version(writes))
        changed += len(writes) - len(lost)
        pending = [doc.record_id for doc, _ in writes if doc.id in lost]
        if not pending:
            break
    if pending:
        raise Conflict(f"{len(pending)} responses kept changing (e.g. record {pending[0]}); try again")
    await queue.record_answered(spec.id, actor.user_id, targets, dequeue=status == "submitted" and spec.min_submitted == 1)
    if relay is not None and changed:
        relay.wake()
    return changed


def public_response(doc: ResponseDoc) -> dict[str, Any]:
    return {"user_id": doc.user_id, "status": doc.status, "values": doc.values, "updated_at": doc.updated_at, "version": doc.version}


def without_outbox(doc: ResponseDoc) -> ResponseDoc:
    return replace(doc, outbox=[])
