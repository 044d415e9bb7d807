"""Simulated production traffic: predictions through the trainer (forwarded to the monitor), feedback
through ingest, a domain switch (IMDb → Rotten Tomatoes), and the samples the monitor sends back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claystream_devstack.demo_api import DemoApi
from claystream_devstack.demo_monitor import DriftWatch
from claystream_devstack.demo_steps import StepTimeout, wait_for


@dataclass
class TrafficLog:
    predictions: int = 0
    feedback: int = 0
    correct: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    first_alert_at_event: int | None = None
    drift_started_at_event: int | None = None
    drift_started_at_s: float | None = None

    def accuracy(self, phase: str) -> float | None:
        seen = self.seen.get(phase, 0)
        return self.correct.get(phase, 0) / seen if seen else None


def stream(
    api: DemoApi,
    client: Any,
    rows: list[dict[str, Any]],
    *,
    phase: str,
    log: TrafficLog,
    watch: DriftWatch,
    batch: int,
    budget_s: float,
    feedback: bool = True,
    echo: Callable[[str], None] = print,
) -> str:
    """Send ``rows`` (``text``, ``label``) as production requests, ``batch`` texts per predict call.

    Stops after ``budget_s`` (:class:`StepTimeout` saying how many were sent) so a slow machine
    cannot stall the demo.
    """
    started = time.monotonic()
    for start in range(0, len(rows), batch):
        if time.monotonic() - started > budget_s:
            raise StepTimeout(f"sent {start} of {len(rows)} in the {budget_s:.0f}s budget "
                              f"({start / budget_s:.1f} predictions/s); the rest was not sent")
        chunk = rows[start:start + batch]
        request_id = f"demo-{phase}-{uuid.uuid4().hex[:12]}"
        answer = api.predict([r["text"] for r in chunk], forward=True, request_id=request_id, replica=True)
        ids = [f"{request_id}-{i}" for i in range(len(chunk))] if len(chunk) > 1 else [request_id]
        log.predictions += len(chunk)
        log.seen[phase] = log.seen.get(phase, 0) + len(chunk)
        log.correct[phase] = log.correct.get(phase, 0) + sum(
            p["label"] == r["label"] for p, r in zip(answer["predictions"], chunk, strict=True))
        if feedback:
            items = [{"request_id": rid, "true_label": r["label"], "model": api.dataset, "dataset": api.dataset}
                     for rid, r in zip(ids, chunk, strict=True)]
            log.feedback += client.log_feedbacks(items).accepted
        watch.sample(log.predictions, phase)
        if log.first_alert_at_event is None and watch.detected():
            log.first_alert_at_event = log.predictions
            echo(f"demo:   drift alert after {log.predictions} production events: {watch.detected()[0]['check']}")
    seconds = time.monotonic() - started
    return f"{len(rows)} predictions in {seconds:.0f}s ({len(rows) / max(seconds, 1e-9):.0f}/s)"


def wait_alert(watch: DriftWatch, *, timeout_s: float) -> dict[str, Any]:
    """Until the monitor raised an alert: its ``drift.detected`` event, or its alerting gauge (e.g. still in
    alert from an earlier run, so no new transition) — the event is preferred for its evidence."""
    gauge_seen: list[float] = []

    def probe() -> tuple[bool, Any]:
        point = watch.sample(watch.points[-1].events_sent if watch.points else 0, "after traffic")
        found = watch.detected()
        if found:
            return True, found[0]
        alerting = watch.alerting_checks()
        if alerting and point is not None:
            gauge_seen.append(time.monotonic())
            if time.monotonic() - gauge_seen[0] >= 5:  # the event did not follow: report what the gauges say
                check = alerting[0]
                return True, {"check": ",".join(alerting), "statistic": point.scores.get(check),
                              "threshold": point.thresholds.get(check), "source": "alerting gauge"}
        last = watch.points[-1].scores if watch.points else {}
        return False, {"latest_scores": last, "errors": watch.errors[-2:]}

    return dict(wait_for("a drift.detected alert", probe, timeout_s=timeout_s, interval_s=1.0))


def wait_routed_back(api: DemoApi, known_external_ids: set[str], *, timeout_s: float) -> dict[str, Any]:
    """Until records that were not in the dataset before the traffic appear (the monitor's samples).

    A second run may see none: the monitor sends a production input back only once.
    """
    def probe() -> tuple[bool, dict[str, Any]]:
        records = api.all_records()
        new = [r for r in records if str(r.get("external_id")) not in known_external_ids]
        tagged = [r for r in new if _from_monitor(r)]
        return bool(new), {"new_records": len(new), "tagged_monitor": len(tagged),
                           "monitor_records_in_dataset": sum(_from_monitor(r) for r in records),
                           "with_suggestions": sum(bool(r.get("suggestions")) for r in new),
                           "example": (new[0].get("fields", {}).get("text", "")[:120] if new else None)}

    return dict(wait_for("samples routed back to annotation", probe, timeout_s=timeout_s, interval_s=2.0))


def _from_monitor(record: dict[str, Any]) -> bool:
    metadata = record.get("metadata") or {}
    return "monitor" in (str(record.get("origin", "")), str(metadata.get("origin", "")), str(metadata.get("source", "")))
