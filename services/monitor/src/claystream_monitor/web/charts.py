"""Chart.js configurations (plain dicts, rendered into data-chart attributes by the templates)."""

from __future__ import annotations

from typing import Any

PALETTE = ["#4f6bed", "#e8833a", "#2fa36b", "#d64550", "#8a5cd0", "#2b9fb3", "#b0893a", "#6b7280"]


def _time_label(value: Any) -> str:
    return value.strftime("%H:%M") if hasattr(value, "strftime") else str(value)


def traffic_chart(traffic: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """Predictions per time bucket, stacked by predicted label."""
    return {
        "type": "bar",
        "data": {
            "labels": [_time_label(t["start"]) for t in traffic],
            "datasets": [
                {"label": label, "data": [t["labels"].get(label, 0) for t in traffic], "backgroundColor": PALETTE[i % len(PALETTE)],
                 "stack": "labels"}
                for i, label in enumerate(labels)
            ],
        },
        "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True, "title": {"display": True, "text": "predictions"}}}},
    }


def label_share_chart(traffic: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """Share of each predicted label over time."""
    return {
        "type": "line",
        "data": {
            "labels": [_time_label(t["start"]) for t in traffic],
            "datasets": [
                {"label": label, "data": [round(t["labels"].get(label, 0) / t["count"], 4) if t["count"] else None for t in traffic],
                 "borderColor": PALETTE[i % len(PALETTE)], "pointRadius": 0, "tension": 0.2}
                for i, label in enumerate(labels)
            ],
        },
        "options": {"scales": {"y": {"min": 0, "max": 1, "title": {"display": True, "text": "share"}}}},
    }


def drift_chart(drift: list[dict[str, Any]], check: str) -> dict[str, Any]:
    """One check's statistic per window against its threshold."""
    points = [(w["events_seen"], r) for w in drift for r in w["results"] if r["check"] == check]
    return {
        "type": "line",
        "data": {
            "labels": [seen for seen, _ in points],
            "datasets": [
                {"label": "statistic", "data": [r["statistic"] for _, r in points], "borderColor": PALETTE[0], "pointRadius": 0},
                {"label": "threshold", "data": [r["threshold"] for _, r in points], "borderColor": PALETTE[3],
                 "borderDash": [6, 4], "pointRadius": 0},
            ],
        },
        "options": {"plugins": {"legend": {"display": False}}, "scales": {"x": {"title": {"display": True, "text": "events seen"}}}},
    }


def accuracy_chart(accuracy: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy and macro-F1 per feedback window, with the accuracy's 95% interval."""
    return {
        "type": "line",
        "data": {
            "labels": [a["events_seen"] for a in accuracy],
            "datasets": [
                {"label": "accuracy", "data": [a["accuracy"] for a in accuracy], "borderColor": PALETTE[2], "pointRadius": 0},
                {"label": "95% low", "data": [(a.get("accuracy_ci") or [None, None])[0] for a in accuracy],
                 "borderColor": PALETTE[7], "borderDash": [4, 4], "pointRadius": 0},
                {"label": "95% high", "data": [(a.get("accuracy_ci") or [None, None])[1] for a in accuracy],
                 "borderColor": PALETTE[7], "borderDash": [4, 4], "pointRadius": 0},
                {"label": "macro-F1", "data": [a["macro_f1"] for a in accuracy], "borderColor": PALETTE[4], "pointRadius": 0},
            ],
        },
        "options": {"scales": {"y": {"min": 0, "max": 1}, "x": {"title": {"display": True, "text": "feedback seen"}}}},
    }
