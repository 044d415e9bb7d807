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
class JoinedPrediction:
    """What the join index remembers about a prediction until its feedback arrives."""

    request_id: str
    key: ModelKey
    label: str
    score: float


@dataclass(frozen=True, slots=True)
class ParkedFeedback:
    """Feedback that arrived before its prediction."""

    request_id: str
    true_label: str | None
    signal: str | None


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray:
        """One row per text (the model's own sentence embeddings)."""


class SampleSink(Protocol):
    async def send(self, *, workspace: str | None, dataset: str, records: list[dict[str, Any]]) -> int:
        """Deliver records to an annotation dataset; returns how many were accepted."""


class RateLimiter(Protocol):
    async def take(self, key: str, wanted: int, *, limit: int, period_s: int) -> int:
        """Grant up to ``wanted`` units from a budget of ``limit`` per ``period_s``; returns the grant."""


class JoinIndex(Protocol):
    async def remember(self, predictions: list[JoinedPrediction]) -> list[tuple[JoinedPrediction, ParkedFeedback]]:
        """Index predictions by request id; returns those whose feedback was already parked."""

    async def lookup(self, request_ids: list[str]) -> dict[str, JoinedPrediction]: ...

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

    async def add_traffic(self, key: ModelKey, buckets: dict[str, dict[str, float]]) -> None: ...

    async def store_evaluations(self, key: ModelKey, evaluations: list[dict[str, Any]]) -> None: ...

    async def store_alerts(self, alerts: list[dict[str, Any]]) -> None: ...

    async def store_feedback(self, feedback: list[dict[str, Any]]) -> None: ...

    async def sent_sample_ids(self, key: ModelKey, sample_ids: list[str]) -> set[str]: ...

    async def store_samples(self, samples: list[dict[str, Any]]) -> None: ...

    async def drop_model(self, workspace: str | None, model: str) -> int: ...
