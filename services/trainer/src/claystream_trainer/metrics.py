"""Trainer metrics (the Grafana dashboard and deploy/prometheus/alerts.yml chart and alert on them)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TRAINING_RUNS = Counter("claystream_training_runs_total", "Training runs by result (trained | failed)", ["result"])
TRAINING_DURATION = Histogram(
    "claystream_training_duration_seconds", "Training run duration", buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800)
)
