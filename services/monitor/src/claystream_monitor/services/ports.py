"""The monitor's ports: what its use cases need from the outside world (adapters implement them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class ModelKey:
    """One monitored model version in one workspace."""

    workspace: str | None
    model: str
    version: str | None

    @property
    def id(self) -> str:
        return f"{self.workspace or '-'}|{self.model}|{self.version or '-'}"

    def as_dict(self) -> dict[str, str | None]:
        return {"workspace": self.workspace, "model": self.model, "model_version": self.version}


@dataclass(frozen=True, slots=True)
class RequestRef:
    """Which prediction a feedback is about.  Request ids are chosen by clients, so they are unique
    only within a workspace: a join never crosses workspaces.  When the feedback names its model,
    only that model's prediction joins; otherwise the latest prediction of the workspace does."""

    workspace: str | None
    request_id: str
    model: str | None = None


@dataclass(frozen=True, slots=True)
class JoinedPrediction:
    """What the join index remembers about a prediction until its feedback arrives."""

    request_id: str
    key: ModelKey
    label: str
    score: float

    @property
    def refs(self) -> tuple[RequestRef, RequestRef]:
        """The feedback that may join it: naming its model, or naming no model (same workspace)."""
        return RequestRef(self.key.workspace, self.request_id, self.key.model), RequestRef(self.key.workspace, self.request_id)


@dataclass(frozen=True, slots=True)
class ParkedFeedback:
    """Feedback that arrived before its prediction."""

    request_id: str
    true_label: str | None
    signal: str | None
    workspace: str | None = None
    model: str | None = None

    @property
    def ref(self) -> RequestRef:
        return RequestRef(self.workspace, self.request_id, self.model)


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray:
        """One row per text (the model's own sentence embeddings)."""


class TextFeatures(Protocol):
    async def measure(self, texts: list[str], vocabulary: frozenset[str]) -> list[tuple[int, float]]:
        """``drift.text.text_features(texts, vocabulary)``, measured off the consumer loop's thread."""

    def close(self) -> None: ...


class SampleSink(Protocol):
    async def send(self, *, workspace: str | None, dataset: str, records: list[dict[str, Any]]) -> int:
        """Deliver records to an annotation dataset; returns how many were accepted."""


class RateLimiter(Protocol):
    async def take(self, key: str, wanted: int, *, limit: int, period_s: int) -> int:
        """Grant up to ``wanted`` units from a budget of ``limit`` per ``period_s``; returns the grant."""


class JoinIndex(Protocol):
    async def remember(self, predictions: list[JoinedPrediction]) -> list[tuple[JoinedPrediction, ParkedFeedback]]:
        """Index predictions by their ``refs``; returns those whose feedback was already parked."""

    async def lookup(self, refs: list[RequestRef]) -> dict[RequestRef, JoinedPrediction]: ...

    async def park(self, feedback: list[ParkedFeedback]) -> None: ...

    async def drop_model(self, workspace: str | None, model: str) -> int: ...


class DatasetDirectory(Protocol):
    async def label_target(self, workspace: str | None, dataset: str) -> tuple[str, str] | None:
        """(text field, label question) of an annotation dataset, or None when it does not exist."""

    def forget(self, workspace: str | None, dataset: str) -> None: ...

    async def exists(self, workspace: str | None, dataset: str) -> bool:
        """Whether the annotation dataset exists."""


class MonitorStore(Protocol):
    async def load_model_state(self, key: ModelKey) -> dict[str, Any] | None: ...

    async def save_reference(self, key: ModelKey, reference: dict[str, Any]) -> None: ...

    async def save_alert_states(self, key: ModelKey, states: dict[str, Any]) -> None: ...

    async def register_model(self, key: ModelKey, fields: dict[str, Any]) -> None: ...

    async def store_predictions(self, key: ModelKey, batch: dict[str, list[Any]]) -> None: ...

    async def add_traffic(self, key: ModelKey, buckets: dict[str, dict[str, float]], *, seq: int | None = None) -> None: ...

    async def load_checkpoint(self, key: ModelKey) -> dict[str, Any] | None: ...

    async def save_checkpoint(self, key: ModelKey, checkpoint: dict[str, Any], *, expected_seq: int) -> bool:
        """Write only if the stored sequence number is still ``expected_seq`` (0: none stored yet)."""

    async def store_evaluations(self, key: ModelKey, evaluations: list[dict[str, Any]]) -> None: ...

    async def store_alerts(self, alerts: list[dict[str, Any]]) -> None: ...

    async def store_feedback(self, feedback: list[dict[str, Any]]) -> None: ...

    async def sent_sample_ids(self, key: ModelKey, sample_ids: list[str]) -> set[str]: ...

    async def store_samples(self, samples: list[dict[str, Any]]) -> None: ...

    async def drop_model(self, workspace: str | None, model: str) -> int: ...
