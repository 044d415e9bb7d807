"""Smaller fakes of annotate's ports: counters, model events, the relay's wake-up, the outbox quarantine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from claystream_annotate.services.ports import QuarantinedEvent


class FakeQuarantine:
    def __init__(self) -> None:
        self.entries: dict[str, QuarantinedEvent] = {}

    async def add(self, entries: Sequence[QuarantinedEvent]) -> None:
        for entry in entries:
            self.entries.setdefault(entry.id, entry)

    async def list(self, workspace: str, *, limit: int = 100) -> list[QuarantinedEvent]:
        return [e for e in self.entries.values() if e.workspace == workspace][:limit]

    async def count(self, workspace: str) -> int:
        return len(await self.list(workspace, limit=10**9))


class FakeCounters:
    def __init__(self) -> None:
        self.values: dict[str, dict[str, int]] = {}

    async def start(self, dataset_id: str) -> None:
        self.values.setdefault(dataset_id, {"records": 0, "completed": 0})

    async def incr(self, dataset_id: str, name: str, amount: int = 1) -> None:
        bucket = self.values.setdefault(dataset_id, {})
        bucket[name] = bucket.get(name, 0) + amount

    async def read(self, dataset_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        return {d: dict(self.values.get(d, {})) for d in dataset_ids}

    async def drop(self, dataset_id: str) -> None:
        self.values.pop(dataset_id, None)


class FakeModelEvents:
    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}

    async def add(self, *, event_id: str, workspace: str | None, dataset: str | None, event_type: str, data: dict[str, Any], occurred_at: Any) -> bool:
        if event_id in self.events:
            return False
        self.events[event_id] = {"workspace": workspace, "dataset": dataset, "type": event_type, "data": data}
        return True


class Wake:
    def __init__(self) -> None:
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1
