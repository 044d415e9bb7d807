"""Issue 14, end to end with real processes: two monitor replicas share the partitions of [predictions]; one
is killed with SIGKILL mid-stream; the survivor takes the partitions over.  Windows, drift scores and alerts
equal those of a single monitor fed the same events; no event is lost or counted twice.  Then two predict
replicas serve the trainer's champion and both swap to a promoted version within 5 s.

It runs bench/scale.py at a small size (the bench is the one implementation of the scenario)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_scale", REPO / "bench" / "scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_monitor_pair_survives_a_kill_and_predict_replicas_swap() -> None:
    bench = load_bench()
    args = argparse.Namespace(events=1600, models=4, duration=12.0, predict_seconds=1.0, concurrency=4,
                              embedder="hashing", skip_predict=False, skip_monitor=False,
                              session_timeout_ms=6000)
    results = bench.run_bench(args)
    assert results["monitor_events_lost"] == 0
    assert results["monitor_events_double_counted"] == 0
    assert results["monitor_matches_single"] is True
    assert results["monitor_takeover_s"] <= 15
    assert results["promotion_visible_s"] <= 5
    assert results["predict_1_texts_per_s"] > 0 and results["predict_2_texts_per_s"] > 0
    assert results["missed"] == []
