"""In-memory fakes of the monitor's ports (unit tests only)."""

from __future__ import annotations

import copy
import math
from typing import Any

from claystream_monitor.services.ports import JoinedPrediction, ModelKey, ParkedFeedback, RequestRef


class MemoryStore:
    def __init__(self) -> None:
        self.models: dict[str, dict[str, Any]] = {}
        self.references: dict[str, dict[str, Any]] = {}
        self.buckets: list[dict[str, Any]] = []
        self.traffic: dict[str, dict[str, float]] = {}
        self.evaluations_by_id: dict[str, dict[str, Any]] = {}  # upserts by name, like MongoMonitorStore
        self.alerts_by_id: dict[str, dict[str, Any]] = {}
        self.feedback: dict[str, dict[str, Any]] = {}
        self.samples: dict[str, dict[str, Any]] = {}
        self.checkpoints: dict[str, dict[str, Any]] = {}
        self.applied_seq: dict[str, int] = {}

    async def load_model_state(self, key: ModelKey) -> dict[str, Any] | None:
        state = dict(self.models.get(key.id, {}))
        if key.id in self.references:
            state["reference"] = self.references[key.id]
        return state or None

    async def save_reference(self, key: ModelKey, reference: dict[str, Any]) -> None:
        self.references[key.id] = reference

    async def save_alert_states(self, key: ModelKey, states: dict[str, Any]) -> None:
        self.models.setdefault(key.id, {})["alert_states"] = states

    async def register_model(self, key: ModelKey, fields: dict[str, Any]) -> None:
        self.models.setdefault(key.id, {}).update(fields)

    async def store_predictions(self, key: ModelKey, batch: dict[str, list[Any]]) -> None:
        self.buckets.append({"model_key": key.id, **batch})

    async def load_checkpoint(self, key: ModelKey) -> dict[str, Any] | None:
        return copy.deepcopy(self.checkpoints.get(key.id))

    async def save_checkpoint(self, key: ModelKey, checkpoint: dict[str, Any], *, expected_seq: int) -> bool:
        if self.checkpoints.get(key.id, {}).get("seq", 0) != expected_seq:
            return False
        self.checkpoints[key.id] = copy.deepcopy(checkpoint)
        return True

    async def add_traffic(self, key: ModelKey, buckets: dict[str, dict[str, float]], *, seq: int | None = None) -> None:
        for start, counts in buckets.items():
            bucket_id = f"{key.id}|{start}"
            if seq is not None:
                if self.applied_seq.get(bucket_id, 0) >= seq:
                    continue
                self.applied_seq[bucket_id] = seq
            row = self.traffic.setdefault(bucket_id, {})
            for name, value in counts.items():
                row[name] = row.get(name, 0) + value

    @property
    def evaluations(self) -> list[dict[str, Any]]:
        return list(self.evaluations_by_id.values())

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return list(self.alerts_by_id.values())

    async def store_evaluations(self, key: ModelKey, evaluations: list[dict[str, Any]]) -> None:
        self.evaluations_by_id.update({e["_id"]: e for e in evaluations})

    async def store_alerts(self, alerts: list[dict[str, Any]]) -> None:
        self.alerts_by_id.update({a["event_id"]: a for a in alerts})

    async def store_feedback(self, feedback: list[dict[str, Any]]) -> None:
        self.feedback.update({f["_id"]: f for f in feedback})

    async def sent_sample_ids(self, key: ModelKey, sample_ids: list[str]) -> set[str]:
        return {i for i in sample_ids if self.samples.get(i, {}).get("status") == "sent"}

    async def store_samples(self, samples: list[dict[str, Any]]) -> None:
        self.samples.update({s["_id"]: s for s in samples})


class MemoryJoin:
    """Same scoping as RedisJoinIndex: by workspace, and by model when the feedback names one."""

    def __init__(self) -> None:
        self.predictions: dict[RequestRef, JoinedPrediction] = {}
        self.parked: dict[RequestRef, ParkedFeedback] = {}

    async def remember(self, predictions: list[JoinedPrediction]) -> list[tuple[JoinedPrediction, ParkedFeedback]]:
        matched = []
        for p in predictions:
            for ref in p.refs:
                self.predictions[ref] = p
            for ref in p.refs:
                if ref in self.parked:
                    matched.append((p, self.parked.pop(ref)))
                    break
        return matched

    async def lookup(self, refs: list[RequestRef]) -> dict[RequestRef, JoinedPrediction]:
        return {r: self.predictions[r] for r in refs if r in self.predictions}

    async def park(self, feedback: list[ParkedFeedback]) -> None:
        self.parked.update({f.ref: f for f in feedback})


class RecordingSink:
    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []
        self.fail_with: Exception | None = None

    async def send(self, *, workspace: str | None, dataset: str, records: list[dict[str, Any]]) -> int:
        if self.fail_with is not None:
            raise self.fail_with
        self.deliveries.append({"workspace": workspace, "dataset": dataset, "records": records})
        return len(records)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for d in self.deliveries for r in d["records"]]


class CountingLimiter:
    def __init__(self) -> None:
        self.used: dict[str, int] = {}

    async def take(self, key: str, wanted: int, *, limit: int, period_s: int) -> int:
        granted = max(0, min(wanted, limit - self.used.get(key, 0)))
        self.used[key] = self.used.get(key, 0) + granted
        return granted


class FixedDirectory:
    def __init__(self, targets: dict[str, tuple[str, str]]) -> None:
        self.targets = targets

    async def label_target(self, workspace: str | None, dataset: str) -> tuple[str, str] | None:
        return self.targets.get(dataset)

    async def exists(self, workspace: str | None, dataset: str) -> bool:
        return dataset in self.targets


def finite(value: float) -> bool:
    return math.isfinite(value)
