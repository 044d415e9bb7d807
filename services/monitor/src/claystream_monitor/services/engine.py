"""The live monitors, one per model version, restored from storage on first use.

Scaling by partition: each model's window state is checkpointed in MongoDB after every batch, in one write
with the fence (the ids of the events it already counted) and the traffic increments of that batch (applied
right after, exactly once: guarded by the checkpoint's sequence number, and replayed by whoever restores the
checkpoint).  The write expects the sequence number it read, so two replicas that briefly hold the same
model (a rebalance) cannot both advance it: the loser reloads and recomputes.  A replica that gains a
partition restores each model's window where the last owner left it; a redelivered event is fenced.

Model names and versions are chosen by clients, so the live set is bounded: past
``max_live`` monitors the least recently used one of the workspace holding the most is
dropped from memory (its window comes back from its checkpoint on next use).  One workspace
sending endless names can only evict its own monitors first.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from claystream_monitor.drift.monitor import DriftConfig, ModelMonitor
from claystream_monitor.drift.reference import Reference
from claystream_monitor.services.ports import Embedder, ModelKey, MonitorStore

log = logging.getLogger(__name__)
T = TypeVar("T")
FENCE_MIN = 5000  # event ids per model, at least: far more than one uncommitted consumer batch
FENCE_BATCHES = 2.5  # and at least this many of the largest batches (polls) the consumer takes
Traffic = dict[str, dict[str, float]]


class CheckpointConflict(RuntimeError):
    """Another replica kept advancing this model's checkpoint (the runner retries the batch)."""


class MonitorEngine:
    def __init__(
        self, config: DriftConfig, *, store: MonitorStore, embedder: Embedder | None, dedupe_capacity: int = 200_000,
        max_live: int = 256, batch_max: int = 2000,
    ) -> None:
        self.config = config
        self.store = store
        self.embedder = embedder
        self.max_live = max_live
        self.fence_size = max(FENCE_MIN, int(FENCE_BATCHES * batch_max))
        self.evicted = 0
        self._monitors: OrderedDict[str, ModelMonitor] = OrderedDict()  # least recently used first
        self._locks: dict[str, asyncio.Lock] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._capacity = dedupe_capacity
        self._seq: dict[str, int] = {}
        # kept as stored (one JSON string): ~40 bytes an id instead of ~95 as a list of str, for up to
        # max_live models; parsed once a batch (~0.6 ms for 10,000 ids)
        self._fences: dict[str, str] = {}

    def unseen(self, event_ids: list[str]) -> set[str]:
        """The ids not taken by a window recently (redeliveries must not count twice)."""
        return {event_id for event_id in event_ids if event_id not in self._recent}

    def mark_seen(self, event_ids: list[str]) -> None:
        for event_id in event_ids:
            self._recent[event_id] = None
        while len(self._recent) > self._capacity:
            self._recent.popitem(last=False)

    def lock(self, key: ModelKey) -> asyncio.Lock:
        return self._locks.setdefault(key.id, asyncio.Lock())

    def known(self) -> list[ModelMonitor]:
        return list(self._monitors.values())

    def peek(self, key: ModelKey) -> ModelMonitor | None:
        return self._monitors.get(key.id)

    async def monitor_for(self, key: ModelKey) -> ModelMonitor:
        monitor = self._monitors.get(key.id)
        if monitor is not None:
            self._monitors.move_to_end(key.id)
            return monitor
        monitor = ModelMonitor(key.workspace, key.model, key.version, self.config)
        state = await self.store.load_model_state(key)
        if state:
            if state.get("reference"):
                try:
                    monitor.use_reference(Reference.from_document(state["reference"]))
                except (KeyError, ValueError) as error:
                    log.warning("stored reference of %s unreadable, rebuilding: %r", key.id, error)
            if state.get("alert_states"):
                monitor.restore_alert_states(state["alert_states"])
            accuracy = (state.get("validation_metrics") or {}).get("accuracy")
            if isinstance(accuracy, int | float) and 0 < accuracy <= 1:
                monitor.reference_accuracy = float(accuracy)
        if key.id not in self._monitors:
            await self._restore_checkpoint(key, monitor)
        self._monitors[key.id] = self._monitors.get(key.id, monitor)
        self._monitors.move_to_end(key.id)
        live = self._monitors[key.id]
        self._evict(keep=key.id)
        return live

    def _evict(self, *, keep: str) -> None:
        """Down to ``max_live``: the least recently used idle monitor of the busiest workspace."""
        while len(self._monitors) > self.max_live:
            per_workspace = Counter(m.workspace for m in self._monitors.values())
            idle = [(k, m) for k, m in self._monitors.items() if k != keep and not self._locked(k)]
            if not idle:
                return
            victim = max(idle, key=lambda item: per_workspace[item[1].workspace])[0]  # max keeps the first (oldest) of ties
            del self._monitors[victim]
            self._locks.pop(victim, None)
            self._seq.pop(victim, None)
            self._fences.pop(victim, None)
            self.evicted += 1

    def _locked(self, key_id: str) -> bool:
        lock = self._locks.get(key_id)
        return lock is not None and lock.locked()

    async def _restore_checkpoint(self, key: ModelKey, monitor: ModelMonitor) -> None:
        checkpoint = await self.store.load_checkpoint(key)
        if not checkpoint:
            self._seq[key.id], self._fences[key.id] = 0, fence_to_stored([])
            return
        monitor.restore_snapshot(checkpoint["state"])
        self._seq[key.id] = int(checkpoint["seq"])
        self._fences[key.id] = fence_to_stored(fence_from_stored(checkpoint.get("fence")))
        await self.store.add_traffic(key, traffic_from_rows(checkpoint.get("traffic", [])), seq=int(checkpoint["seq"]))

    async def apply(self, key: ModelKey, event_ids: list[str],
                    step: Callable[[ModelMonitor, set[str]], Awaitable[tuple[T, Traffic]]]) -> tuple[T | None, set[str]]:
        """Under the model's lock: ``step(monitor, fresh_ids)`` feeds the events not counted yet and returns
        (its result, traffic increments); then one checkpoint write (window + fence + traffic), then the
        traffic.  Returns (result, fresh ids); (None, empty) when every event was counted before."""
        async with self.lock(key):
            for _ in range(5):
                monitor = await self.monitor_for(key)
                previous = fence_from_stored(self._fences.get(key.id))
                counted = set(previous)
                fresh = [i for i in dict.fromkeys(event_ids) if i not in counted]
                if not fresh:
                    return None, set()
                try:
                    result, traffic = await step(monitor, set(fresh))
                except BaseException:
                    self.forget(key)  # the window may hold part of the batch: restore it from the checkpoint next time
                    raise
                seq = self._seq.get(key.id, 0)
                fence = fence_to_stored((previous + fresh)[-self.fence_size:])
                saved = await self.store.save_checkpoint(key, {
                    "seq": seq + 1, "state": monitor.snapshot(), "fence": fence, "traffic": traffic_rows(traffic),
                }, expected_seq=seq)
                if saved:
                    self._seq[key.id], self._fences[key.id] = seq + 1, fence
                    await self.store.add_traffic(key, traffic, seq=seq + 1)
                    return result, set(fresh)
                log.info("checkpoint of %s moved on elsewhere; reloading", key.id)
                self.forget(key)
        raise CheckpointConflict(f"checkpoint of {key.id} kept changing")

    def forget(self, key: ModelKey) -> None:
        self._monitors.pop(key.id, None)
        self._seq.pop(key.id, None)
        self._fences.pop(key.id, None)

    def drop_model(self, workspace: str | None, model: str) -> None:
        """Every live monitor (all versions) of a deleted dataset's model."""
        prefix = f"{workspace or '-'}|{model}|"
        for key_id in [k for k in self._monitors if k.startswith(prefix)]:
            del self._monitors[key_id]
            self._locks.pop(key_id, None)
            self._seq.pop(key_id, None)
            self._fences.pop(key_id, None)


def fence_to_stored(fence: list[str]) -> str:
    """The fence is stored as one JSON string: an array of thousands of ids cost the embedded store twice as
    much to write each batch (docs/PERFORMANCE.md).  Feedback fence ids hold client text, hence JSON."""
    return json.dumps(fence, separators=(",", ":"))


def fence_from_stored(fence: str | list[str] | None) -> list[str]:
    """Checkpoints written before the string form hold a list."""
    if not fence:
        return []
    return json.loads(fence) if isinstance(fence, str) else [str(event_id) for event_id in fence]


def traffic_rows(traffic: Traffic) -> list[list[Any]]:
    """Traffic increments as rows (counter names hold dots, which stored field names should not)."""
    return [[start, [[name, value] for name, value in counts.items()]] for start, counts in traffic.items()]


def traffic_from_rows(rows: list[list[Any]]) -> Traffic:
    return {str(start): {str(name): float(value) for name, value in counts} for start, counts in rows}
