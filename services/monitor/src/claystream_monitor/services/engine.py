"""The live monitors, one per model version, restored from storage on first use."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from claystream_monitor.drift.monitor import DriftConfig, ModelMonitor
from claystream_monitor.drift.reference import Reference
from claystream_monitor.services.ports import Embedder, ModelKey, MonitorStore

log = logging.getLogger(__name__)


class MonitorEngine:
    def __init__(self, config: DriftConfig, *, store: MonitorStore, embedder: Embedder | None, dedupe_capacity: int = 200_000) -> None:
        self.config = config
        self.store = store
        self.embedder = embedder
        self._monitors: dict[str, ModelMonitor] = {}
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
        return self._monitors[key.id]

    def forget(self, key: ModelKey) -> None:
        self._monitors.pop(key.id, None)

    def drop_model(self, workspace: str | None, model: str) -> None:
        """Every live monitor (all versions) of a deleted dataset's model."""
        prefix = f"{workspace or '-'}|{model}|"
        for key_id in [k for k in self._monitors if k.startswith(prefix)]:
            del self._monitors[key_id]
            self._locks.pop(key_id, None)
