"""The live monitors, one per model version, restored from storage on first use.

Model names and versions are chosen by clients, so the live set is bounded: past
``max_live`` monitors the least recently used one of the workspace holding the most is
dropped from memory (its reference and alert states are stored; only its current window is
lost and refills).  One workspace sending endless names can only evict its own monitors first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict

from claystream_monitor.drift.monitor import DriftConfig, ModelMonitor
from claystream_monitor.drift.reference import Reference
from claystream_monitor.services.ports import Embedder, ModelKey, MonitorStore

log = logging.getLogger(__name__)


class MonitorEngine:
    def __init__(
        self, config: DriftConfig, *, store: MonitorStore, embedder: Embedder | None, dedupe_capacity: int = 200_000,
        max_live: int = 256,
    ) -> None:
        self.config = config
        self.store = store
        self.embedder = embedder
        self.max_live = max_live
        self.evicted = 0
        self._monitors: OrderedDict[str, ModelMonitor] = OrderedDict()  # least recently used first
        self._locks: dict[str, asyncio.Lock] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._capacity = dedupe_capacity

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
            self.evicted += 1

    def _locked(self, key_id: str) -> bool:
        lock = self._locks.get(key_id)
        return lock is not None and lock.locked()

    def forget(self, key: ModelKey) -> None:
        self._monitors.pop(key.id, None)

    def drop_model(self, workspace: str | None, model: str) -> None:
        """Every live monitor (all versions) of a deleted dataset's model."""
        prefix = f"{workspace or '-'}|{model}|"
        for key_id in [k for k in self._monitors if k.startswith(prefix)]:
            del self._monitors[key_id]
            self._locks.pop(key_id, None)
