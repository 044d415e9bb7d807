"""The ports a trainer use case may need, bundled once by bootstrap (fakes in unit tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claystream_common.ports import EventPublisher

from claystream_trainer.domain.ports import (
    ArtifactStore,
    BodyProvider,
    DatasetSpecs,
    EmbeddingCache,
    LabelCounters,
    LabelStore,
    ModelRegistry,
    RecordStore,
    TrainingLock,
)


@dataclass
class TrainerPorts:
    records: RecordStore
    labels: LabelStore
    counters: LabelCounters
    lock: TrainingLock
    registry: ModelRegistry
    artifacts: ArtifactStore
    cache: EmbeddingCache
    bodies: BodyProvider
    specs: DatasetSpecs
    publisher: EventPublisher
    finetuner: Any | None = None  # SetFitFineTuner-like: .finetune(texts, labels, params, progress) -> result
