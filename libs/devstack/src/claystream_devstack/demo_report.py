"""The demo's short report: report.md plus PNG plots (accuracy vs labels, drift score over time)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from claystream_devstack.demo_learning import CurvePoint
from claystream_devstack.demo_monitor import DriftPoint
from claystream_devstack.demo_steps import StepLog

ACCURACY_PNG = "accuracy_vs_labels.png"
DRIFT_PNG = "drift_score.png"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy(points: list[CurvePoint], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    shown = [p for p in points if p.test_accuracy is not None]
    if shown:
        ax.plot([p.labels for p in shown], [p.test_accuracy for p in shown], marker="o", label="champion, IMDb test")
        for p in shown:
            ax.annotate(p.kind, (p.labels, p.test_accuracy), textcoords="offset points", xytext=(0, 6), fontsize=7)
    else:
        ax.text(0.5, 0.5, "no model was trained", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("submitted labels")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0.0, 1.0)
    ax.set_title("Accuracy vs labels")
    ax.grid(alpha=0.3)
    if shown:
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_drift(points: list[DriftPoint], alerts: list[dict[str, Any]], drift_start_s: float | None, path: Path) -> None:
    """Each check's statistic over its threshold (1.0 = the alert line) against time since the traffic began."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    checks = sorted({check for p in points for check in p.scores})
    for check in checks:
        shown = [(p.seconds, _relative(p, check)) for p in points if check in p.scores]
        ax.plot([x for x, _ in shown], [y for _, y in shown], marker=".", label=check)
    if checks:
        ax.axhline(1.0, color="black", linewidth=0.8, label="threshold")
    if drift_start_s is not None:
        ax.axvline(drift_start_s, color="grey", linestyle="--", label="switch to Rotten Tomatoes")
    for alert in alerts:
        if alert["type"] == "drift.detected":
            ax.axvline(alert["seconds"], color="red", alpha=0.4)
    if not checks:
        ax.text(0.5, 0.5, "the monitor exposed no drift scores", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("seconds since production traffic began")
    ax.set_ylabel("drift statistic / threshold")
    ax.set_title("Drift score over time (red: alerts)")
    ax.grid(alpha=0.3)
    if checks:
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _relative(point: DriftPoint, check: str) -> float:
    threshold = point.thresholds.get(check)
    return point.scores[check] / threshold if threshold else point.scores[check]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "—" if value is None else str(value)


def write_report(
    out_dir: Path,
    steps: StepLog,
    *,
    curve: list[CurvePoint],
    drift_points: list[DriftPoint],
    alerts: list[dict[str, Any]],
    drift_start_s: float | None,
    header: list[str],
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_accuracy(curve, out_dir / ACCURACY_PNG)
    plot_drift(drift_points, alerts, drift_start_s, out_dir / DRIFT_PNG)
    lines = ["# Claystream demo report", "", *header, ""]
    problems = steps.problems
    lines.append("**Result:** " + ("every step completed." if not problems else
                                     f"{len(problems)} step(s) did not complete: " +
                                     ", ".join(f"{p.name} ({p.status})" for p in problems) + "."))
    lines += ["", "## Steps", "", "| step | status | seconds | detail |", "|---|---|---|---|"]
    for r in steps.results:
        detail = r.detail.replace("|", "\\|").replace("\n", " ")[:300]
        lines.append(f"| {r.name} | {r.status} | {r.seconds:.1f} | {detail} |")
    lines += ["", "## Figures", ""]
    for key, value in steps.figures.items():
        lines.append(f"- {key}: {_fmt(value)}")
    lines += ["", "## Learning curve", "", f"![accuracy vs labels]({ACCURACY_PNG})", "",
              "| labels | champion | kind | trained on | trainer metrics | test accuracy |", "|---|---|---|---|---|---|"]
    for p in curve:
        metrics = {k: v for k, v in p.trainer_metrics.items() if isinstance(v, int | float)}
        lines.append(f"| {p.labels} | {p.model_version} | {p.kind} | {p.label_count} | "
                     f"{json.dumps(metrics, default=str)[:160]} | {_fmt(p.test_accuracy)} |")
    lines += ["", "## Drift", "", f"![drift score]({DRIFT_PNG})", ""]
    for alert in alerts:
        lines.append(f"- {alert['type']} `{alert['check']}`: statistic {_fmt(alert['statistic'])} "
                     f"(threshold {_fmt(alert['threshold'])}, p {_fmt(alert.get('p_value'))}) at {alert['at']}")
    if not alerts:
        lines.append("- no drift events were seen")
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    (out_dir / "report.json").write_text(json.dumps({
        "steps": [r.__dict__ for r in steps.results], "figures": steps.figures,
        "curve": [p.__dict__ for p in curve], "alerts": alerts,
        "drift_points": [p.__dict__ for p in drift_points]}, default=str, indent=1))
    return path
