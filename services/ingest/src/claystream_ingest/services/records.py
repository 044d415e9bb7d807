"""Use cases: turn validated records into ``record.ingested`` events and publish them."""

from __future__ import annotations

from typing import Any

from claystream_common.datasets import record_id_for
from claystream_common.events import RecordIngested, new_event
from claystream_common.ports import EventPublisher



async def ingest_records(
    dataset: str, records: list[dict[str, Any]], *, publisher: EventPublisher, workspace: str | None = None
) -> list[str]:
    events = []
    for record in records:
        record_id = record_id_for(workspace or "default", dataset, record.get("external_id"))
        data = RecordIngested(
            record_id=record_id,
            external_id=record.get("external_id"),
            fields=record["fields"],
            metadata=record.get("metadata") or {},
        )
        events.append(new_event("record.ingested", data, dataset=dataset, workspace=workspace))
    await publisher.publish_many(events, keys=[e.data.record_id for e in events])
    return [e.data.record_id for e in events]
