"""Ports shared by services, with in-memory fakes for unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from claystream_common.events import Envelope


class EventPublisher(Protocol):
    async def publish_many(
        self, events: Sequence[Envelope[Any]], *, keys: Sequence[str | None] | None = None, topic: str | None = None
    ) -> None: ...


class RecordingPublisher:
    """Fake publisher: keeps what was published; can be told to fail."""

    def __init__(self) -> None:
        self.published: list[tuple[Envelope[Any], str | None]] = []
        self.fail_with: Exception | None = None

    async def publish_many(
        self, events: Sequence[Envelope[Any]], *, keys: Sequence[str | None] | None = None, topic: str | None = None
    ) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        keys = keys or [None] * len(events)
        self.published.extend(zip(events, keys, strict=True))

    async def publish(self, event: Envelope[Any], *, key: str | None = None, topic: str | None = None) -> None:
        await self.publish_many([event], keys=[key], topic=topic)

    def of_type(self, event_type: str) -> list[Envelope[Any]]:
        return [event for event, _ in self.published if event.type == event_type]
