"""The outbox quarantine seen by admins: entries the relay set aside, per workspace."""

from __future__ import annotations

from typing import Any

from claystream_annotate.services.ports import QuarantineStore
from claystream_annotate.services.principals import Principal, Role

PREVIEW_CHARS = 400


async def quarantined_entries(*, actor: Principal, workspace: str, quarantine: QuarantineStore, limit: int = 100) -> dict[str, Any]:
    """The newest entries of a workspace (admins of it, owners), each with a short preview of the
    raw entry (the full text stays in ``outbox_quarantine``), and how many there are in all."""
    actor.require(workspace, Role.ADMIN)
    entries = await quarantine.list(workspace, limit=limit)
    return {
        "total": await quarantine.count(workspace),
        "items": [
            {
                "id": e.id, "reason": e.reason, "detail": e.detail, "size": e.size, "event_type": e.event_type,
                "response_id": e.response_id, "record_id": e.record_id, "dataset_id": e.dataset_id,
                "quarantined_at": e.quarantined_at, "preview": e.raw[:PREVIEW_CHARS],
            }
            for e in entries
        ],
    }
