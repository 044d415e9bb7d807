"""The webhook event catalogue: which outward event types exist and which Kafka events they come from.

One place maps the platform's internal event types (``claystream_common.events.EVENT_TYPES``) to the
types a webhook subscriber chooses.  Types without a source event yet are accepted (a subscription may
ask for them today) and start flowing the day their event is published:

* ``record.updated`` — no records-topic event for edits yet;
* ``response.deleted`` — responses are only ever discarded (a status: ``response.updated``);
* ``dataset.created`` / ``dataset.updated`` — the datasets topic carries only ``dataset.deleted`` so far.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from claystream_common.events import Envelope

WEBHOOK_EVENT_TYPES: tuple[str, ...] = (
    "record.created",
    "record.updated",
    "record.deleted",
    "record.completed",
    "response.created",
    "response.updated",
    "response.deleted",
    "dataset.created",
    "dataset.updated",
    "dataset.deleted",
    "model.trained",
    "model.promoted",
    "training.failed",
    "drift.detected",
    "drift.resolved",
)
TEST_EVENT_TYPE = "webhook.test"
NOT_PUBLISHED_YET = frozenset(
    {"record.updated", "response.deleted", "dataset.created", "dataset.updated"}
)


def _response_type(event: Envelope[Any]) -> str:
    """The first version of a user's response to a record is *created*; every later change (draft →
    submitted, an edit, a discard) is *updated* — the payload carries the status."""
    return "response.created" if getattr(event.data, "version", 1) <= 1 else "response.updated"


def _fixed(name: str) -> Callable[[Envelope[Any]], str]:
    return lambda _event: name


# internal event type → the webhook type it becomes
SOURCES: dict[str, Callable[[Envelope[Any]], str]] = {
    "record.ingested": _fixed("record.created"),
    "record.deleted": _fixed("record.deleted"),
    "record.completed": _fixed("record.completed"),
    "response.submitted": _response_type,
    "response.updated": _response_type,
    "response.discarded": _response_type,
    "model.trained": _fixed("model.trained"),
    "model.promoted": _fixed("model.promoted"),
    "training.failed": _fixed("training.failed"),
    "drift.detected": _fixed("drift.detected"),
    "drift.resolved": _fixed("drift.resolved"),
    "dataset.deleted": _fixed("dataset.deleted"),
}


def webhook_type_for(event: Envelope[Any]) -> str | None:
    source = SOURCES.get(event.type)
    return source(event) if source is not None else None


def unknown_types(types: list[str]) -> list[str]:
    return [t for t in types if t not in WEBHOOK_EVENT_TYPES]
