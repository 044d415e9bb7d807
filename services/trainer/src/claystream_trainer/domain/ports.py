"""The trainer's ports: what the use cases need from the outside world (real adapters in ``adapters/``,
in-memory fakes in ``tests/unit/fakes.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from claystream_common.datasets import DatasetSpec


@dataclass(frozen=True)
class DatasetKey:
    workspace: str
    dataset: str

    def __str__(self) -> str:
        return f"{self.workspace}/{self.dataset}"


class Embedder(Protocol):
    """A sentence-embedding body. ``key`` names it in the cache (base model + chunking, or a model version)."""

    key: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class BodyProvider(Protocol):
    """Sentence-embedding bodies.  The base model is one body shared by every dataset; a fine-tuned body belongs
    to its dataset (its ``body_ref`` is a model version, and versions restart at v1 in every dataset)."""

    def register(self, dataset: DatasetKey, body_ref: str, directory: str) -> None:
        """Where the fine-tuned body ``body_ref`` of ``dataset`` lives (before ``get`` asks for it)."""

    def get(self, dataset: DatasetKey, body_ref: str | None) -> Embedder:
        """``None`` or ``"base"``: the configured base model; else the fine-tuned body of that model version of
        ``dataset``."""

    def forget(self, dataset: DatasetKey) -> None:
        """A deleted dataset: drop its fine-tuned bodies (the base model stays)."""


class EmbeddingCache(Protocol):
    def get_many(self, dataset: DatasetKey, body_key: str, record_ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, dataset: DatasetKey, body_key: str, record_ids: Sequence[str], vectors: np.ndarray) -> None: ...

    def drop_dataset(self, dataset: DatasetKey) -> None: ...


@dataclass(frozen=True)
class StoredRecord:
    record_id: str
    text: str
    trace: str | None = None  # the W3C traceparent of the send that created the record (its own trace)


class RecordStore(Protocol):
    async def upsert_texts(self, dataset: DatasetKey, records: Sequence[StoredRecord]) -> None: ...

    async def texts(self, dataset: DatasetKey, record_ids: Sequence[str]) -> dict[str, str]: ...

    async def traces(self, dataset: DatasetKey, record_ids: Sequence[str]) -> dict[str, str]:
        """Each record's own trace, for those that have one (suggestions for a record continue it)."""

    async def all_ids(self, dataset: DatasetKey) -> list[str]: ...

    async def datasets(self) -> list[DatasetKey]: ...

    async def delete(self, dataset: DatasetKey, record_ids: Sequence[str]) -> int:
        """Forget these records' texts (annotate deleted them); returns how many were there."""

    async def drop_dataset(self, dataset: DatasetKey) -> int: ...


@dataclass(frozen=True)
class LabelChange:
    """One response event reduced to what training needs."""

    event_id: str
    dataset: DatasetKey
    record_id: str
    user_id: str
    status: str  # submitted | draft | discarded
    label: str | tuple[str, ...] | None  # a tuple: the sorted labels of a multi-label answer
    version: int
    at: datetime


class LabelStore(Protocol):
    async def apply(self, change: LabelChange) -> bool:
        """Idempotent upsert by (record, user); older versions never overwrite newer ones. True when stored."""

    async def labelled(self, dataset: DatasetKey) -> dict[str, str | tuple[str, ...]]:
        """record id → label: the latest submitted answer per record, the majority when annotators disagree
        (a multi-label answer: a sorted tuple)."""

    async def delete_for_records(self, dataset: DatasetKey, record_ids: Sequence[str]) -> int:
        """Forget every answer to these records (annotate deleted them); returns how many there were."""

    async def drop_dataset(self, dataset: DatasetKey) -> int: ...


class LabelCounters(Protocol):
    async def count_once(self, event_id: str, dataset: DatasetKey, label: str) -> bool:
        """Add one new submitted label unless this event id was counted before. True when counted."""

    async def read(self, dataset: DatasetKey) -> dict[str, int] | None:
        """{"refresh": n, "finetune": m, "class:<label>": k...}; None when the counters are gone (rebuild)."""

    async def consume(self, dataset: DatasetKey, *, refresh: int, finetune: int) -> None:
        """Subtract what a training run used (labels that arrived meanwhile stay counted)."""

    async def reset_to(self, dataset: DatasetKey, *, refresh: int, finetune: int) -> None: ...

    async def drop(self, dataset: DatasetKey) -> None: ...

    async def datasets(self) -> list[DatasetKey]:
        """Every dataset that has counters."""


class TrainingLock(Protocol):
    async def acquire(self, name: str, lease_s: float) -> str | None: ...

    async def renew(self, name: str, token: str, lease_s: float) -> bool: ...

    async def release(self, name: str, token: str) -> bool: ...


@dataclass
class ModelEntry:
    version: str
    workspace: str
    dataset: str
    kind: str
    status: str  # candidate | champion | retired | failed
    label_count: int
    labels: list[str]
    question: str
    text_field: str
    base_model: str
    body_ref: str  # "base" or the version whose fine-tuned body this model uses
    body_key: str  # embedding cache key of that body
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    artifact_path: str = ""
    sha256: str = ""
    created_at: datetime | None = None
    promoted_at: datetime | None = None

    @property
    def dataset_key(self) -> DatasetKey:
        return DatasetKey(self.workspace, self.dataset)


class ModelRegistry(Protocol):
    async def next_version(self, dataset: DatasetKey) -> str: ...

    async def add(self, entry: ModelEntry) -> None: ...

    async def get(self, dataset: DatasetKey, version: str) -> ModelEntry | None: ...

    async def champion(self, dataset: DatasetKey) -> ModelEntry | None: ...

    async def champions(self) -> list[ModelEntry]:
        """The champion of every dataset (a predict replica loads them before it is ready)."""

    async def list(self, dataset: DatasetKey, *, limit: int = 50) -> list[ModelEntry]: ...

    async def promote(self, dataset: DatasetKey, version: str) -> ModelEntry | None:
        """Make ``version`` the champion and retire the previous one; returns the previous champion."""

    async def set_status(self, dataset: DatasetKey, version: str, status: str) -> None: ...

    async def last_of_kind(self, dataset: DatasetKey, kind: str) -> ModelEntry | None: ...

    async def drop_dataset(self, dataset: DatasetKey) -> int: ...


class ArtifactStore(Protocol):
    def save(self, dataset: DatasetKey, version: str, head: Any, body_dir: str | None) -> tuple[str, str]:
        """Write the artifact; returns (path, sha256)."""

    def load_head(self, path: str, sha256: str) -> Any:
        """Raise ArtifactError when missing or when the hash does not match."""

    def verify(self, path: str, sha256: str) -> None: ...

    def body_dir(self, path: str) -> str: ...

    def drop_dataset(self, dataset: DatasetKey) -> None: ...


class ArtifactError(RuntimeError):
    """A model artifact is missing or corrupt: it must never replace the champion."""


class DatasetSpecs(Protocol):
    async def get(self, dataset: DatasetKey) -> DatasetSpec | None: ...
