"""Crash recovery, short version of ``bench/chaos.py`` (same code, smaller numbers; ≤ 3 minutes).

~2,000 IMDb reviews through ingest's HTTP API while simulated annotators label through annotate's API;
every service is killed with SIGKILL in turn (ingest, annotate, trainer, monitor) at seeded random moments
and restarted; then delivered label events are re-published (duplicates by event id).  Afterwards every
accepted record is stored exactly once, every submitted response exists exactly once and was counted
exactly once by the trainer, duplicates were absorbed, no consumer lags and annotate's outbox is drained;
every stored record is queued or answered, a poison outbox entry is moved past within 5 s, and feedback never
joins a prediction of another workspace.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from claystream_devstack.pytest_plugin import shared_data_dir

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


def load_bench() -> ModuleType:
    if str(BENCH.parent) not in sys.path:
        sys.path.insert(0, str(BENCH.parent))  # its sibling modules (chaos_support, chaos_checks), as when run as a script
    spec = importlib.util.spec_from_file_location("claystream_bench_chaos", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_kill_each_service_loses_nothing_and_counts_once() -> None:
    data = shared_data_dir() / "imdb" / "unsup.jsonl.gz"
    if not data.exists():
        pytest.skip(f"shared IMDb data missing at {data}")
    chaos = load_bench()
    cfg = chaos.ChaosConfig(records=2_000, batch=100, records_per_s=100.0, annotators=3, labels=150,
                            predictions=500, replay_duplicates=30, kill_gap_s=(1.0, 4.0), seed=11,
                            settle_timeout_s=90.0, data_file=data)
    tally, seen, summary, problems = chaos.run_chaos(cfg)

    assert problems == [], problems
    assert summary["records_accepted"] == summary["records_stored"] == cfg.records
    assert summary["labels_submitted"] >= cfg.labels
    assert summary["labels_counted"] == summary["labels_submitted"] == seen.responses_stored
    assert seen.trainer_status_labels == summary["labels_submitted"]
    assert seen.label_event_duplicates >= tally.replayed == cfg.replay_duplicates  # absorbed: counted == submitted
    assert set(tally.recovery_s) == {"ingest", "annotate", "trainer", "monitor"}
    assert seen.outbox_pending == 0 and seen.max_lag == 0
    assert seen.predictions_stored == tally.predictions_accepted == cfg.predictions
    assert summary["records_not_queued"] == 0
    assert summary["outbox_stuck_s"] is not None and summary["outbox_stuck_s"] <= 5.0
    assert summary["cross_workspace_joins"] == 0 and seen.feedback_joined == len(tally.feedback_same_workspace) > 0
