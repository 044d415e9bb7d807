"""In-memory fakes of the trainer's ports (unit tests only)."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from claystream_common.datasets import DatasetSpec
from claystream_common.ports import RecordingPublisher
from claystream_trainer.adapters.file_artifacts import FileArtifactStore
from claystream_trainer.adapters.st_embedder import HashingEmbedder
from claystream_trainer.domain.ports import DatasetKey, LabelChange, ModelEntry, StoredRecord
from claystream_trainer.services.ports_bundle import TrainerPorts


class FakeRecords:
    def __init__(self) -> None:
        self.rows: dict[DatasetKey, dict[str, str]] = {}
        self.record_traces: dict[str, str] = {}

    async def upsert_texts(self, dataset: DatasetKey, records: Sequence[StoredRecord]) -> None:
        self.rows.setdefault(dataset, {}).update({r.record_id: r.text for r in records})
        for r in records:
            if r.trace and r.record_id not in self.record_traces:
                self.record_traces[r.record_id] = r.trace

    async def traces(self, dataset: DatasetKey, record_ids: Sequence[str]) -> dict[str, str]:
        return {r: self.record_traces[r] for r in record_ids if r in self.record_traces}

    async def texts(self, dataset: DatasetKey, record_ids: Sequence[str]) -> dict[str, str]:
        rows = self.rows.get(dataset, {})
        return {r: rows[r] for r in record_ids if r in rows}

    async def all_ids(self, dataset: DatasetKey) -> list[str]:
        return list(self.rows.get(dataset, {}))

    async def datasets(self) -> list[DatasetKey]:
        return list(self.rows)

    async def delete(self, dataset: DatasetKey, record_ids: Sequence[str]) -> int:
        rows = self.rows.get(dataset, {})
        return sum(rows.pop(r, None) is not None for r in record_ids)


class FakeLabels:
    def __init__(self) -> None:
        self.answers: dict[tuple[DatasetKey, str, str], LabelChange] = {}

    async def apply(self, change: LabelChange) -> bool:
        key = (change.dataset, change.record_id, change.user_id)
        current = self.answers.get(key)
        if current is not None and current.version > change.version:
            return False
        self.answers[key] = change
        return True

    async def labelled(self, dataset: DatasetKey) -> dict[str, str]:
        votes: dict[str, Counter[str]] = {}
        for (ds, record_id, _), change in self.answers.items():
            if ds == dataset and change.status == "submitted" and change.label is not None:
                votes.setdefault(record_id, Counter())[change.label] += 1
        return {r: c.most_common(1)[0][0] for r, c in votes.items()}

    async def delete_for_records(self, dataset: DatasetKey, record_ids: Sequence[str]) -> int:
        gone = [key for key in self.answers if key[0] == dataset and key[1] in set(record_ids)]
        for key in gone:
            del self.answers[key]
        return len(gone)


class FakeCounters:
    """Same contract as the Redis script: counts an event id once."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.hashes: dict[DatasetKey, dict[str, int]] = {}

    async def count_once(self, event_id: str, dataset: DatasetKey, label: str) -> bool:
        if event_id in self.seen:
            return False
        self.seen.add(event_id)
        h = self.hashes.setdefault(dataset, {})
        for field in ("refresh", "finetune", f"class:{label}"):
            h[field] = h.get(field, 0) + 1
        return True

    async def read(self, dataset: DatasetKey) -> dict[str, int] | None:
        return dict(self.hashes[dataset]) if dataset in self.hashes else None

    async def consume(self, dataset: DatasetKey, *, refresh: int, finetune: int) -> None:
        h = self.hashes.setdefault(dataset, {})
        h["refresh"] = max(0, h.get("refresh", 0) - refresh)
        h["finetune"] = max(0, h.get("finetune", 0) - finetune)

    async def reset_to(self, dataset: DatasetKey, *, refresh: int, finetune: int) -> None:
        self.hashes[dataset] = {"refresh": refresh, "finetune": finetune}

    async def datasets(self) -> list[DatasetKey]:
        return sorted(self.hashes, key=str)


class FakeLock:
    def __init__(self) -> None:
        self.held: dict[str, str] = {}

    async def acquire(self, name: str, lease_s: float) -> str | None:
        if name in self.held:
            return None
        self.held[name] = secrets.token_hex(4)
        return self.held[name]

    async def renew(self, name: str, token: str, lease_s: float) -> bool:
        return self.held.get(name) == token

    async def release(self, name: str, token: str) -> bool:
        if self.held.get(name) == token:
            del self.held[name]
            return True
        return False


class FakeRegistry:
    def __init__(self) -> None:
        self.entries: dict[tuple[DatasetKey, str], ModelEntry] = {}
        self.sequence: dict[DatasetKey, int] = {}

    async def next_version(self, dataset: DatasetKey) -> str:
        self.sequence[dataset] = self.sequence.get(dataset, 0) + 1
        return f"v{self.sequence[dataset]}"

    async def add(self, entry: ModelEntry) -> None:
        entry.created_at = entry.created_at or datetime.now(UTC)
        self.entries[(entry.dataset_key, entry.version)] = entry

    async def get(self, dataset: DatasetKey, version: str) -> ModelEntry | None:
        return self.entries.get((dataset, version))

    async def champion(self, dataset: DatasetKey) -> ModelEntry | None:
        return next((e for (d, _), e in self.entries.items() if d == dataset and e.status == "champion"), None)

    async def champions(self) -> list[ModelEntry]:
        return [e for e in self.entries.values() if e.status == "champion"]

    async def list(self, dataset: DatasetKey, *, limit: int = 50) -> list[ModelEntry]:
        return [e for (d, _), e in reversed(self.entries.items()) if d == dataset][:limit]

    async def last_of_kind(self, dataset: DatasetKey, kind: str) -> ModelEntry | None:
        return next((e for e in await self.list(dataset) if e.kind == kind), None)

    async def promote(self, dataset: DatasetKey, version: str) -> ModelEntry | None:
        previous = await self.champion(dataset)
        for (d, v), e in self.entries.items():
            if d == dataset and e.status == "champion" and v != version:
                e.status = "retired"
        entry = self.entries[(dataset, version)]
        entry.status, entry.promoted_at = "champion", datetime.now(UTC)
        return previous

    async def set_status(self, dataset: DatasetKey, version: str, status: str) -> None:
        self.entries[(dataset, version)].status = status


class DictCache:
    def __init__(self) -> None:
        self.vectors: dict[tuple[DatasetKey, str, str], np.ndarray] = {}

    def get_many(self, dataset: DatasetKey, body_key: str, record_ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {r: self.vectors[(dataset, body_key, r)] for r in record_ids if (dataset, body_key, r) in self.vectors}

    def put_many(self, dataset: DatasetKey, body_key: str, record_ids: Sequence[str], vectors: np.ndarray) -> None:
        for r, v in zip(record_ids, vectors, strict=True):
            self.vectors[(dataset, body_key, r)] = v


class FakeBodies:
    """Every body is the tiny hashing embedder (keyed by its reference)."""

    def __init__(self) -> None:
        self.dirs: dict[tuple[DatasetKey, str], str] = {}

    def register(self, dataset: DatasetKey, body_ref: str, directory: str) -> None:
        self.dirs[(dataset, body_ref)] = directory

    def get(self, dataset: DatasetKey, body_ref: str | None) -> HashingEmbedder:
        return HashingEmbedder(key=f"hashing-{body_ref or 'base'}")

    def forget(self, dataset: DatasetKey) -> None:
        for key in [k for k in self.dirs if k[0] == dataset]:
            del self.dirs[key]


class FakeSpecs:
    def __init__(self) -> None:
        self.specs: dict[DatasetKey, DatasetSpec] = {}

    async def get(self, dataset: DatasetKey) -> DatasetSpec | None:
        return self.specs.get(dataset)


def make_ports(tmp_path: Path, *, finetuner: Any | None = None) -> TrainerPorts:
    return TrainerPorts(records=FakeRecords(), labels=FakeLabels(), counters=FakeCounters(), lock=FakeLock(),
                        registry=FakeRegistry(), artifacts=FileArtifactStore(tmp_path), cache=DictCache(),
                        bodies=FakeBodies(), specs=FakeSpecs(), publisher=RecordingPublisher(), finetuner=finetuner)


def spec_for(dataset: DatasetKey, labels: list[str], **trainer: Any) -> DatasetSpec:
    return DatasetSpec.model_validate({
        "id": "d1", "workspace": dataset.workspace, "name": dataset.dataset,
        "fields": [{"name": "text"}], "questions": [{"name": "label", "type": "label", "labels": labels}],
        "trainer": trainer,
    })
