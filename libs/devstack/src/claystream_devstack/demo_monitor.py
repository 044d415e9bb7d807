"""What the demo watches of the monitor: drift scores (its Prometheus gauges) and alerts (the drift topic).

Both are parts of the contract that do not depend on the dashboard's JSON shapes: the
``claystream_drift_score{model,check}`` / ``claystream_drift_threshold`` gauges on ``/metrics``, and
``drift.detected`` / ``drift.resolved`` events on the ``drift`` topic (read here with a group-less
consumer, so nothing is committed and nobody else's offsets move).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from claystream_common.events import EventDecodeError, decode_event
from claystream_common.topics import Topic


@dataclass(frozen=True)
class DriftPoint:
    seconds: float
    events_sent: int
    phase: str
    scores: dict[str, float]
    thresholds: dict[str, float]
    alerting: dict[str, float] = field(default_factory=dict)


def parse_drift_gauges(text: str, model: str) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """``(scores, thresholds, alerting)`` per check of ``model`` from a Prometheus text exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    scores: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    alerting: dict[str, float] = {}
    gauges = {"claystream_drift_score": scores, "claystream_drift_threshold": thresholds,
              "claystream_drift_alerting": alerting}
    for family in text_string_to_metric_families(text):
        target = gauges.get(family.name)
        if target is None:
            continue
        for sample in family.samples:
            labels = sample.labels
            if model in str(labels.get("model", "")) and "check" in labels:
                target[labels["check"]] = float(sample.value)
    return scores, thresholds, alerting


@dataclass
class DriftWatch:
    """Drift scores over time (polled) and alerts (consumed in a background thread)."""

    monitor_url: str | None
    kafka_bootstrap: str
    dataset: str
    workspace: str
    points: list[DriftPoint] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic)
    _since: float = field(default_factory=time.time)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._since = time.time()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._consume, name="demo-drift-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def sample(self, events_sent: int, phase: str) -> DriftPoint | None:
        """One reading of the monitor's drift gauges (None when the monitor does not answer)."""
        if not self.monitor_url:
            return None
        import httpx

        try:
            text = httpx.get(f"{self.monitor_url}/metrics", timeout=10).text
        except httpx.HTTPError as error:
            self.errors.append(f"metrics: {error!r}")
            return None
        scores, thresholds, alerting = parse_drift_gauges(text, self.dataset)
        point = DriftPoint(time.monotonic() - self._started, events_sent, phase, scores, thresholds, alerting)
        self.points.append(point)
        return point

    def elapsed(self) -> float:
        """Seconds since the watch began (the time axis of its points and alerts)."""
        return time.monotonic() - self._started

    def detected(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["type"] == "drift.detected"]

    def alerting_checks(self) -> list[str]:
        """Checks the monitor's ``claystream_drift_alerting`` gauge shows in alert (latest reading)."""
        return sorted(c for c, v in self.points[-1].alerting.items() if v >= 1) if self.points else []

    # ------------------------------------------------------------------ the drift topic
    def _consume(self) -> None:
        try:
            asyncio.run(self._consume_async())
        except Exception as error:  # noqa: BLE001 - reported in the demo's report
            self.errors.append(f"drift topic: {error!r}")

    async def _consume_async(self) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(Topic.DRIFT.value, bootstrap_servers=self.kafka_bootstrap, group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                for messages in batches.values():
                    for message in messages:
                        self._take(message.value)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    def _take(self, raw: bytes | None) -> None:
        try:
            event = decode_event(raw)
        except EventDecodeError:
            return
        if event.type not in ("drift.detected", "drift.resolved") or event.occurred_at.timestamp() < self._since - 5:
            return
        data = event.data
        if self.dataset not in (data.model, event.dataset) or (event.workspace and event.workspace != self.workspace):
            return
        self.alerts.append({
            "type": event.type, "check": data.check, "statistic": data.statistic, "threshold": data.threshold,
            "p_value": data.p_value, "model_version": data.model_version, "at": event.occurred_at.isoformat(),
            "seconds": time.monotonic() - self._started,
        })
