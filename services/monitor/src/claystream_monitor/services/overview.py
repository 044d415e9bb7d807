"""Read side: what the dashboard and the JSON API show for a model version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from claystream_monitor.services.engine import MonitorEngine
from claystream_monitor.services.ports import ModelKey


class OverviewStore(Protocol):
    async def list_models(self, workspace: str | None) -> list[dict[str, Any]]: ...
    async def model_traffic(self, key_id: str, *, since: datetime) -> list[dict[str, Any]]: ...
    async def recent_windows(self, key_id: str, *, limit: int) -> list[dict[str, Any]]: ...
    async def recent_alerts(self, key_id: str, *, limit: int) -> list[dict[str, Any]]: ...
    async def recent_samples(self, key_id: str, *, limit: int) -> list[dict[str, Any]]: ...


def key_from_document(document: dict[str, Any]) -> ModelKey:
    return ModelKey(document.get("workspace"), document["model"], document.get("model_version"))


async def list_models(*, store: OverviewStore, engine: MonitorEngine, workspaces: frozenset[str] | None) -> list[dict[str, Any]]:
    documents = await store.list_models(next(iter(workspaces)) if workspaces is not None and len(workspaces) == 1 else None)
    out = []
    for document in documents:
        if workspaces is not None and document.get("workspace") not in workspaces:
            continue
        key = key_from_document(document)
        live = engine.peek(key)
        states = (live.alert_states() if live else document.get("alert_states")) or {}
        out.append({
            "id": key.id, **key.as_dict(), "champion": bool(document.get("champion")),
            "reference_ready": bool(document.get("reference_ready_at")) or bool(live and live.reference_ready),
            "reference_source": document.get("reference_source"),
            "events_seen_since_start": live.events_seen if live else None,
            "alerting": sorted(check for check, state in states.items() if state.get("alerting")),
            "last_seen": document.get("last_seen"),
        })
    return out


async def model_overview(key_id: str, *, store: OverviewStore, hours: float = 24, limit: int = 200) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(hours=hours)
    traffic = await store.model_traffic(key_id, since=since)
    windows = list(reversed(await store.recent_windows(key_id, limit=limit)))
    alerts = await store.recent_alerts(key_id, limit=50)
    samples = await store.recent_samples(key_id, limit=50)
    # a multi-label model: how many predictions carried each label (its rate), not only the top label
    multi_label = any(t.get("label_sets") for t in traffic)
    counted = "label_sets" if multi_label else "labels"
    labels = sorted({label for t in traffic for label in (t.get(counted) or {})})
    return {
        "multi_label": multi_label,
        "traffic": [
            {"start": t["start"], "count": int(t.get("count", 0)),
             "labels": {label: int((t.get(counted) or {}).get(label, 0)) for label in labels},
             "mean_score": (t["score_sum"] / t["scored"]) if t.get("scored") else None,
             "low_confidence_share": (t.get("low_confidence", 0) / t["scored"]) if t.get("scored") else None,
             "feedback": int(t.get("feedback", 0)),
             "accuracy": (t.get("correct", 0) / t["feedback"]) if t.get("feedback") else None}
            for t in traffic
        ],
        "labels": labels,
        "drift": [
            {"at": w["at"], "index": w["index"], "events_seen": w["events_seen"], "kind": w["kind"],
             "results": w["results"], "alerting": w.get("alerting", []),
             **({"label_rates": w["summary"]["label_rates"]} if "label_rates" in (w.get("summary") or {}) else {})}
            for w in windows if w["kind"] == "predictions"
        ],
        "accuracy": [
            {"at": w["at"], "events_seen": w["events_seen"], **{k: w["summary"].get(k) for k in
                                                                ("accuracy", "accuracy_ci", "macro_f1", "macro_f1_ci", "n")}}
            for w in windows if w["kind"] == "feedback"
        ],
        "alerts": [{k: a.get(k) for k in ("at", "transition", "check", "statistic", "threshold", "p_value", "window", "model_version")}
                   for a in alerts],
        "samples": [{k: s.get(k) for k in ("at", "request_id", "dataset", "predicted_label", "score", "reasons", "status", "text")}
                    for s in samples],
    }


def latest_scores(overview: dict[str, Any]) -> list[dict[str, Any]]:
    """The latest result per check (for the "scores against thresholds" table)."""
    latest: dict[str, dict[str, Any]] = {}
    for window in overview["drift"]:
        for result in window["results"]:
            latest[result["check"]] = {**result, "at": window["at"], "alerting": result["check"] in window["alerting"]}
    return [latest[check] for check in sorted(latest)]
