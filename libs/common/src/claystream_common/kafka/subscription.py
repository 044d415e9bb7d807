"""What a service hands the consumer runner: event types and their handler coroutines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from claystream_common.events import EVENT_TYPES, Envelope

EventHandler = Callable[[Envelope[Any]], Awaitable[None]]
BatchHandler = Callable[[list[Envelope[Any]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    """One event type and the coroutine that handles it (one at a time, or in batches).

    ``fenced=False``: the handler is idempotent by natural keys alone (e.g. inserts keyed by ``_id`` that
    only count what was new), so the runner neither looks up nor writes fence entries for its events:
    two MongoDB round trips and one write per event fewer.  Duplicates within one poll are still dropped.
    """

    event_type: str
    handler: EventHandler | None = None
    batch_handler: BatchHandler | None = None
    fenced: bool = True

    def __post_init__(self) -> None:
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.event_type}")
        if (self.handler is None) == (self.batch_handler is None):
            raise ValueError("give exactly one of handler / batch_handler")

    @property
    def topic(self) -> str:
        return EVENT_TYPES[self.event_type][0].value


@dataclass(slots=True)
class RunnerStats:
    handled: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    ignored: int = 0
    retries: int = 0
    rewinds: int = 0
    commit_failures: int = 0
