"""The monitor's Prometheus series (one process-wide registry, like libs/common's)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DRIFT_SCORE = Gauge("claystream_drift_score", "Latest drift statistic per check", ["model", "check"])
DRIFT_THRESHOLD = Gauge("claystream_drift_threshold", "Threshold the drift statistic is compared with", ["model", "check"])
DRIFT_P_VALUE = Gauge("claystream_drift_p_value", "Latest p-value per check", ["model", "check"])
DRIFT_ALERTING = Gauge("claystream_drift_alerting", "1 while a check is in alert", ["model", "check"])
DRIFT_TRANSITIONS = Counter("claystream_drift_alerts_total", "Alert transitions", ["model", "check", "transition"])
PREDICTIONS_SEEN = Counter("claystream_monitor_predictions_total", "Predictions processed", ["model"])
FEEDBACK_SEEN = Counter("claystream_monitor_feedback_total", "Feedback processed", ["model", "outcome"])
WINDOWS_EVALUATED = Counter("claystream_monitor_windows_total", "Window evaluations", ["model", "kind"])
SAMPLES_SENT = Counter("claystream_monitor_samples_total", "Samples routed back to annotators", ["model", "outcome"])


def drop_model_series(model: str) -> None:
    """Forget the drift gauges of a deleted dataset's model (counters stay: they are monotonic by contract)."""
    for gauge in (DRIFT_SCORE, DRIFT_THRESHOLD, DRIFT_P_VALUE, DRIFT_ALERTING):
        checks = {sample.labels["check"] for family in gauge.collect() for sample in family.samples
                  if sample.labels.get("model") == model}
        for check in checks:
            gauge.remove(model, check)
