"""The demo's pure parts, fast: bounded waits and the step log, sampling, the monitor's gauges, the report."""

from __future__ import annotations

from pathlib import Path

import pytest
from claystream_devstack import demo_data
from claystream_devstack.demo_learning import CurvePoint
from claystream_devstack.demo_monitor import DriftPoint, parse_drift_gauges
from claystream_devstack.demo_report import ACCURACY_PNG, DRIFT_PNG, write_report
from claystream_devstack.demo_steps import StepLog, StepTimeout, wait_for

METRICS = """# HELP claystream_drift_score Latest drift statistic per check
# TYPE claystream_drift_score gauge
claystream_drift_score{check="text_length",model="imdb_reviews"} 0.8
claystream_drift_score{check="text_length",model="other"} 9.0
claystream_drift_score{check="label_distribution",model="imdb_reviews"} 2.5
# HELP claystream_drift_threshold Threshold the drift statistic is compared with
# TYPE claystream_drift_threshold gauge
claystream_drift_threshold{check="text_length",model="imdb_reviews"} 0.4
# HELP claystream_drift_alerting 1 while a check is in alert
# TYPE claystream_drift_alerting gauge
claystream_drift_alerting{check="text_length",model="imdb_reviews"} 1.0
claystream_drift_alerting{check="label_distribution",model="imdb_reviews"} 0.0
"""


def test_wait_for_returns_what_the_probe_saw_once_done() -> None:
    calls = iter([(False, 1), (False, 2), (True, 3)])
    assert wait_for("three", lambda: next(calls), timeout_s=5, interval_s=0) == 3


def test_wait_for_times_out_naming_what_it_waited_for_and_the_last_error() -> None:
    def probe() -> tuple[bool, int]:
        raise ConnectionError("service restarting")

    with pytest.raises(StepTimeout, match=r"waited 0s for the model; .*ConnectionError: service restarting"):
        wait_for("the model", probe, timeout_s=0, interval_s=0)


def test_a_failed_or_timed_out_step_is_recorded_and_the_demo_goes_on() -> None:
    lines: list[str] = []
    log = StepLog(echo=lines.append)

    def times_out() -> None:
        raise StepTimeout("waited 1s for x")

    assert log.run("first", times_out) is None
    assert log.run("second", lambda: 1 / 0) is None
    assert log.run("third", lambda: "fine") == "fine"
    assert [(r.name, r.status) for r in log.results] == [("first", "timeout"), ("second", "failed"), ("third", "ok")]
    assert [p.name for p in log.problems] == ["first", "second"]
    assert "ZeroDivisionError" in log.results[1].detail and any("TIMEOUT" in line for line in lines)
    with pytest.raises(StepTimeout):
        log.run("required", times_out, required=True)


def test_samples_are_reproducible_and_balanced_prefixes_hold_both_labels() -> None:
    first = demo_data.unlabelled_imdb(5)
    assert [r["id"] for r in first] == [r["id"] for r in demo_data.unlabelled_imdb(5)]
    assert all("label" not in r for r in first)
    rows = demo_data.balanced("imdb/train.jsonl.gz", 6, seed=42)
    assert [r["label"] for r in rows[:2]] in (["negative", "positive"], ["positive", "negative"])
    assert sorted(r["label"] for r in rows) == ["negative"] * 3 + ["positive"] * 3
    excluded = {r["id"] for r in rows}
    assert not excluded & {r["id"] for r in demo_data.balanced("imdb/train.jsonl.gz", 50, exclude=excluded)}


def test_drift_gauges_of_one_model_are_read_from_the_prometheus_text() -> None:
    scores, thresholds, alerting = parse_drift_gauges(METRICS, "imdb_reviews")
    assert scores == {"text_length": 0.8, "label_distribution": 2.5}
    assert thresholds == {"text_length": 0.4}
    assert alerting == {"text_length": 1.0, "label_distribution": 0.0}


def test_report_and_plots_are_written(tmp_path: Path) -> None:
    log = StepLog(echo=lambda _: None)
    log.run("import", lambda: "100 accepted")
    log.run("alert", lambda: (_ for _ in ()).throw(StepTimeout("waited 90s for a drift.detected alert")))
    log.figures["final_test_accuracy"] = 0.8125
    curve = [CurvePoint(20, "v1", "refresh", 20, {"accuracy": 0.7}, 0.71),
             CurvePoint(80, "v4", "finetune", 80, {"accuracy": 0.85}, 0.84)]
    points = [DriftPoint(1.0, 50, "imdb", {"text_length": 0.1}, {"text_length": 0.4}),
              DriftPoint(2.0, 100, "rotten_tomatoes", {"text_length": 0.9}, {"text_length": 0.4})]
    alerts = [{"type": "drift.detected", "check": "text_length", "statistic": 0.9, "threshold": 0.4, "p_value": 0.001,
               "at": "2026-01-01T00:00:00+00:00", "seconds": 1.5}]
    path = write_report(tmp_path, log, curve=curve, drift_points=points, alerts=alerts, drift_start_s=1.2, header=["demo"])
    text = path.read_text()
    assert "1 step(s) did not complete: alert (timeout)" in text
    assert "| 80 | v4 | finetune | 80 |" in text and "final_test_accuracy: 0.812" in text
    assert "drift.detected `text_length`: statistic 0.900 (threshold 0.400, p 0.001)" in text
    for name in (ACCURACY_PNG, DRIFT_PNG):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_a_masked_api_key_shows_its_id_and_none_of_its_secret() -> None:
    from claystream_devstack.demo_setup import mask_api_key

    assert mask_api_key("cs_2ec8f1da_oDwd_ehLr-x6i_XQ") == "cs_2ec8f1da_…"
