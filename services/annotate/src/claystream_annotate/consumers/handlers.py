"""Plain handler coroutines: validated events in, side effects through ports."""

from __future__ import annotations

from typing import Any, Protocol

from claystream_common.events import Envelope, RecordIngested


class RecordStore(Protocol):
    async def upsert_many(self, records: list[dict[str, Any]]) -> int: ...


async def on_records_ingested(events: list[Envelope[RecordIngested]], *, records: RecordStore) -> None:
    documents = []
    for event in events:
        data = event.data
        documents.append(
            {
                "_id": data.record_id,
                "dataset": event.dataset,
                "workspace": event.workspace,
                "external_id": data.external_id,
                "fields": data.fields,
                "metadata": data.metadata,
                "origin": data.origin,
                "ingest_event_id": str(event.event_id),
            }
        )
    await records.upsert_many(documents)
