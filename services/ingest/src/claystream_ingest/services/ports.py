"""Ports of the ingest use cases (adapters implement them; unit tests fake them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from claystream_common.auth import ApiKeyRecord  # the shared api_keys contract (one auth module for all services)
from claystream_common.datasets import DatasetSpec

__all__ = ["ApiKeyRecord"]


class EncodedEvent(NamedTuple):
    """An envelope already serialised to JSON bytes, with what the Kafka message needs."""

    key: bytes
    value: bytes
    event_id: str
    event_type: str


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after_s: float = 0.0


class ApiKeyStore(Protocol):
    async def get(self, key_id: str) -> ApiKeyRecord | None: ...


class DatasetCatalog(Protocol):
    async def get(self, workspace: str, name: str) -> DatasetSpec | None: ...


class RateLimiter(Protocol):
    async def hit(self, subject: str) -> RateDecision: ...


class EncodedPublisher(Protocol):
    async def publish_encoded(self, topic: str, events: Sequence[EncodedEvent]) -> None:
        """Return only after Kafka acknowledged every event; raise PublishError otherwise."""
        ...
