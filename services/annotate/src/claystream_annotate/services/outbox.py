"""The outbox relay: publishes the events stored with responses, then clears them.

For every response document with unpublished envelopes it (1) applies the record-level
effects (who submitted, per-user status, completion once ``min_submitted`` users submitted),
(2) publishes the envelopes with their original event ids (plus ``record.completed`` with a
deterministic id), (3) removes the published envelopes from the document.  Every step is
idempotent, so a crash anywhere only causes a re-drive: the same events again, same ids.

One bad entry never stops the relay: each entry is decoded and size-checked on its own, and one
that can never be published (undecodable, over ``max_event_bytes``, or refused by the broker as
too large) is moved to the quarantine (``outbox_quarantine``, metric
``claystream_outbox_quarantined_total``, admin page ``/admin/quarantine``) and the pass goes on.
A broker that is down is not a bad entry: the pass fails and the entries stay for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from claystream_common.datasets import DatasetSpec
from claystream_common.events import Envelope, EventDecodeError, RecordCompleted, decode_event, encode_event, new_event
from claystream_common.kafka.producer import PublishError
from claystream_common.ports import EventPublisher
from prometheus_client import Counter, Gauge

from claystream_annotate.services.ports import (
    Counters,
    PassLock,
    QuarantinedEvent,
    QuarantineStore,
    QueueStore,
    RecordStore,
    ResponseDoc,
    ResponseStore,
)

log = logging.getLogger(__name__)
COMPLETED_NAMESPACE = uuid.UUID("0d7a1c52-5b1e-4c55-8f0e-3b1d2a9c7e41")
OUTBOX_BACKLOG = Gauge("claystream_outbox_backlog", "Response documents with unpublished events", ["service"])
OUTBOX_QUARANTINED = Counter(
    "claystream_outbox_quarantined_total", "Outbox entries set aside because they can never be published", ["service", "reason"]
)
# below the producer's 1 MiB request limit, with room for headers and the record batch framing
MAX_EVENT_BYTES = 900_000
BUSY_RETRY_S = 0.01  # another replica holds the relay pass: ask again this soon
BUSY_WAIT_S = 2.0  # ... for at most this long (a pass takes milliseconds; a dead holder's lease expires in 10 s)
# broker answers that say "this message can never go" (anything else is an outage: retry later)
PERMANENT_PUBLISH_ERRORS = ("MessageSizeTooLargeError", "RecordTooLargeError", "RecordListTooLargeError", "InvalidMessageError", "CorruptRecordException")

SpecLoader = Callable[[str], Awaitable[DatasetSpec | None]]


def completed_event_id(record_id: str) -> uuid.UUID:
    return uuid.uuid5(COMPLETED_NAMESPACE, record_id)


class OutboxRelay:
    def __init__(
        self,
        *,
        responses: ResponseStore,
        records: RecordStore,
        queue: QueueStore,
        counters: Counters,
        publisher: EventPublisher,
        load_spec: SpecLoader,
        quarantine: QuarantineStore,
        max_event_bytes: int = MAX_EVENT_BYTES,
        batch: int = 500,
        poll_s: float = 1.0,
        linger_s: float = 0.005,
        service: str = "annotate",
        lock: PassLock | None = None,
    ) -> None:
        self._responses = responses
        self._records = records
        self._queue = queue
        self._counters = counters
        self._publisher = publisher
        self._load_spec = load_spec
        self._quarantine = quarantine
        self._max_event_bytes = max_event_bytes
        self._batch = batch
        self._poll_s = poll_s
        self._linger_s = linger_s
        self._service = service
        self._wake = asyncio.Event()
        self._pass = asyncio.Lock()  # one pass at a time in a process: a second caller finds the entries cleared
        self._lock = lock  # ... and across replicas (None: this process is the only relay)
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.quarantined = 0
        self.backlog = 0  # what this relay last reported to the (process-wide) gauge

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                while await self.drain_once() >= self._batch:
                    pass
            except Exception as error:  # noqa: BLE001 - keep relaying; the entries stay for the next pass
                log.warning("outbox relay pass failed: %r", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
            self._wake.clear()
            await asyncio.sleep(self._linger_s)  # the submits of this moment gather into one pass

    async def drain_once(self) -> int:
        """One pass over up to ``batch`` response documents; returns how many were handled.

        Costs a handful of MongoDB round trips per pass whatever the batch size (bulk writes),
        plus one read per submit on datasets with ``min_submitted`` > 1.  Passes of one process run
        one after the other (the relay's own loop and an explicit call would otherwise publish the
        same entries twice: harmless to the idempotent consumers, but wasted).
        """
        async with self._pass:
            if self._lock is None:
                return await self._drain_once()
            if not await self._acquire_pass():  # another replica held it all along: the next pass will do
                self._wake.set()
                return 0
            try:
                return await self._drain_once()
            finally:
                await self._lock.release()

    async def _acquire_pass(self) -> bool:
        """The cross-replica lease, waiting a little for another replica's pass (milliseconds) to end."""
        assert self._lock is not None
        deadline = asyncio.get_running_loop().time() + BUSY_WAIT_S
        while not await self._lock.acquire():
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(BUSY_RETRY_S)
        return True

    async def _drain_once(self) -> int:
        documents = await self._responses.with_pending_outbox(self._batch)
        await self._report_backlog(len(documents))
        if not documents:
            return 0
        events: list[Envelope[Any]] = []
        sources: list[ResponseDoc | None] = []  # the document each event came from (None: record.completed)
        poison: list[QuarantinedEvent] = []
        effects: list[tuple[str, str, str, bool]] = []
        completions: dict[str, tuple[DatasetSpec, dict[str, tuple[int, str | None]]]] = {}
        specs: dict[str, DatasetSpec | None] = {}
        for document in documents:
            if document.dataset_id not in specs:
                specs[document.dataset_id] = await self._load_spec(document.dataset_id)
            spec = specs[document.dataset_id]
            decoded: list[Envelope[Any]] = []
            for raw in document.outbox:
                event, bad = self._check(document, raw)
                if bad is not None:
                    poison.append(bad)
                if event is not None:
                    decoded.append(event)
                    if bad is None:
                        events.append(event)
                        sources.append(document)
            if spec is None:
                continue  # dataset deleted: publish what was said, touch nothing
            submitted = document.status == "submitted"
            effects.append((document.record_id, document.user_id, document.status, submitted))
            submit = next((e for e in decoded if e.type == "response.submitted"), None)
            if submitted and submit is not None:
                count = await self._submitters_if_needed(spec, document)
                if count is not None:  # the completion continues the trace of the answer that completed the record
                    completions.setdefault(spec.id, (spec, {}))[1][document.record_id] = (count, submit.traceparent)
        await self._set_aside(poison)
        await self._records.apply_response_effects(effects)
        for spec, records in completions.values():
            changed = await self._records.mark_completed_many(list(records))
            await self._counters.incr(spec.id, "completed", changed)
            await self._queue.remove(spec.id, list(records))
            for record_id, (count, traceparent) in records.items():
                events.append(self._completed_event(spec, record_id, count, traceparent))
                sources.append(None)
        await self._publish(await self._in_record_traces(events), sources)
        self.published += len(events)
        await self._responses.clear_outboxes(documents)
        if len(documents) < self._batch:
            self.backlog = 0
            OUTBOX_BACKLOG.labels(self._service).set(0)
        return len(documents)

    def _check(self, document: ResponseDoc, raw: str) -> tuple[Envelope[Any] | None, QuarantinedEvent | None]:
        """The decoded event, and the quarantine entry when it can never be published."""
        size = len(raw.encode("utf-8", errors="surrogatepass"))
        try:
            event = decode_event(raw.encode("utf-8", errors="surrogatepass"))
        except (EventDecodeError, UnicodeError) as error:
            return None, self._poison(document, raw, "undecodable", str(error), None, size)
        if size > self._max_event_bytes:
            detail = f"{size} bytes encoded, the limit is {self._max_event_bytes}"
            return event, self._poison(document, raw, "oversize", detail, event, size)
        return event, None

    def _poison(self, document: ResponseDoc, raw: str, reason: str, detail: str, event: Envelope[Any] | None, size: int) -> QuarantinedEvent:
        entry_id = str(event.event_id) if event is not None else "sha256:" + hashlib.sha256(raw.encode("utf-8", errors="surrogatepass")).hexdigest()
        return QuarantinedEvent(
            id=entry_id, response_id=document.id, record_id=document.record_id, dataset_id=document.dataset_id,
            workspace=document.workspace, reason=reason, detail=detail[:500], size=size,
            raw=raw.encode("utf-8", errors="replace").decode("utf-8"), event_type=event.type if event is not None else None,
        )

    async def _set_aside(self, poison: list[QuarantinedEvent]) -> None:
        if not poison:
            return
        await self._quarantine.add(poison)  # stored before the outbox entry is cleared: never lost
        for entry in poison:
            OUTBOX_QUARANTINED.labels(self._service, entry.reason).inc()
            log.error("outbox entry %s of response %s quarantined (%s: %s)", entry.id, entry.response_id, entry.reason, entry.detail)
        self.quarantined += len(poison)

    async def _in_record_traces(self, events: list[Envelope[Any]]) -> list[Envelope[Any]]:
        """Each event about a record continues that record's own trace (one read for the batch), so a record is
        followed from its send through its answers to the trainer in one trace; the trace the event was made in
        (the answering request) becomes a link.  Records sent before they had a trace keep the request's."""
        traces = await self._records.traces([key for key in map(self._key, events) if key])
        out = []
        for event in events:
            record_trace = traces.get(self._key(event) or "")
            if record_trace and record_trace != event.traceparent:
                links = [event.traceparent] if event.traceparent else []
                event = event.model_copy(update={"traceparent": record_trace, "links": links})
            out.append(event)
        return out

    async def _publish(self, events: list[Envelope[Any]], sources: list[ResponseDoc | None]) -> None:
        """All in one go; when the broker refuses the batch, one by one, setting aside each
        event it refuses for good (an outage re-raises: everything stays for the next pass)."""
        try:
            await self._publisher.publish_many(events, keys=[self._key(e) for e in events])
            return
        except PublishError as error:
            if not _permanent(error):
                raise
        for event, source in zip(events, sources, strict=True):
            try:
                await self._publisher.publish_many([event], keys=[self._key(event)])
            except PublishError as error:
                if source is None or not _permanent(error):
                    raise
                raw = encode_event(event).decode()
                await self._set_aside([self._poison(source, raw, "rejected", str(error), event, len(raw.encode()))])

    async def _report_backlog(self, seen: int) -> None:
        backlog = seen if seen < self._batch else await self._responses.pending_count()
        self.backlog = backlog
        OUTBOX_BACKLOG.labels(self._service).set(backlog)

    @staticmethod
    def _key(event: Envelope[Any]) -> str | None:
        return getattr(event.data, "record_id", None)

    async def _submitters_if_needed(self, spec: DatasetSpec, document: ResponseDoc) -> int | None:
        """The submitted count when this submit completes the record, else None.

        N = 1: every submit completes.  N > 1: the user who is the N-th submitter completes
        (re-drives of that user's event re-emit the same ``record.completed`` id)."""
        if spec.min_submitted == 1:
            return 1
        submitters = await self._records.add_submitter(document.record_id, document.user_id)
        n = spec.min_submitted
        if len(submitters) >= n and document.user_id in submitters[:n] and submitters[n - 1] == document.user_id:
            return len(submitters)
        return None

    @staticmethod
    def _completed_event(spec: DatasetSpec, record_id: str, submitted: int, traceparent: str | None) -> Envelope[Any]:
        return new_event(
            "record.completed",
            RecordCompleted(record_id=record_id, submitted_count=submitted),
            dataset=spec.name,
            workspace=spec.workspace,
            event_id=completed_event_id(record_id),
            traceparent=traceparent,
        )


def _permanent(error: BaseException) -> bool:
    """The broker refused this message itself (too large, invalid), not the connection."""
    cause: BaseException | None = error
    while cause is not None:
        if type(cause).__name__ in PERMANENT_PUBLISH_ERRORS:
            return True
        cause = cause.__cause__
    return False
