"""Use cases: turn validated records into ``record.ingested`` events and publish them."""

from __future__ import annotations

import uuid
from typing import Any

from claystream_common.events import RecordIngested, new_event
from claystream_common.ports import EventPublisher

RECORD_NAMESPACE = uuid.UUID("6f1b6a43-3b7a-4c1e-9a53-9b0f6f0c2a11")


def record_id_for(dataset: str, external_id: str | None) -> str:
    """Deterministic from (dataset, external_id); random when the client gave no id."""
    if external_id is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(RECORD_NAMESPACE, f"{dataset}\x1f{external_id}"))


async def ingest_records(
    dataset: str, records: list[dict[str, Any]], *, publisher: EventPublisher, workspace: str | None = None
) -> list[str]:
    events = []
    for record in records:
        record_id = record_id_for(dataset, record.get("external_id"))
        data = RecordIngested(
            record_id=record_id,
            external_id=record.get("external_id"),
            fields=record["fields"],
            metadata=record.get("metadata") or {},
        )
        events.append(new_event("record.ingested", data, dataset=dataset, workspace=workspace))
    await publisher.publish_many(events, keys=[e.data.record_id for e in events])
    return [e.data.record_id for e in events]
