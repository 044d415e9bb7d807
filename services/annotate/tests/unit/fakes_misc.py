"""Smaller fakes of annotate's ports: datasets, counters, model events, the relay's wake-up, the outbox quarantine."""

from __future__ import annotations

import copy
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


class FakeDatasets:
    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    async def insert(self, document: dict[str, Any]) -> None:
        self.documents[document["_id"]] = copy.deepcopy(document)

    async def get(self, workspace: str, name: str, *, fresh: bool = False) -> dict[str, Any] | None:
        return next((copy.deepcopy(d) for d in self.documents.values() if d["workspace"] == workspace and d["name"] == name), None)

    async def get_by_id(self, dataset_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.documents.get(dataset_id))

    async def list(self, workspaces: Sequence[str] | None) -> list[dict[str, Any]]:
        return [copy.deepcopy(d) for d in self.documents.values() if workspaces is None or d["workspace"] in workspaces]

    async def replace(self, document: dict[str, Any], *, expected_revision: int | None) -> bool:
        if self.documents.get(document["_id"], {}).get("revision") != expected_revision:
            return False
        self.documents[document["_id"]] = copy.deepcopy(document)
        return True

    async def delete(self, dataset_id: str) -> bool:
        return self.documents.pop(dataset_id, None) is not None
