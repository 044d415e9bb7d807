"""The engine end to end on synthetic traffic: quiet while stationary, alerts on shifts, resolves after."""

from __future__ import annotations

from claystream_monitor.drift.hysteresis import Transition
from claystream_monitor.drift.monitor import DriftConfig, ModelMonitor
from monitor_synthetic import WORDS_B, stream, word_vector_embed

CONFIG = DriftConfig(window_size=200, stride=50, reference_size=600, alpha=0.01, embedding_every=2)


def run(monitor: ModelMonitor, observations, chunk: int = 97):  # type: ignore[no-untyped-def]
    evaluations = []
    for start in range(0, len(observations), chunk):
        done, _ = monitor.observe(observations[start:start + chunk], embed=word_vector_embed)
        evaluations.extend(done)
    return evaluations


def detected(evaluations):  # type: ignore[no-untyped-def]
    return [(e.events_seen, r.check) for e in evaluations for t, r in e.transitions if t is Transition.DETECTED]


def test_stationary_traffic_raises_no_alert_over_many_seeds() -> None:
    windows = alerts = 0
    for seed in range(3):
        monitor = ModelMonitor("ws", "m", "v1", CONFIG)
        evaluations = run(monitor, stream(3000, seed=seed))
        windows += len(evaluations)
        alerts += len(detected(evaluations))
    assert windows > 120
    assert alerts == 0


def test_reference_is_the_first_window_and_is_reported_once() -> None:
    monitor = ModelMonitor("ws", "m", "v1", CONFIG)
    _, reference = monitor.observe(stream(599, seed=1), embed=word_vector_embed)
    assert reference is None and not monitor.reference_ready
    _, reference = monitor.observe(stream(2, seed=2), embed=word_vector_embed)
    assert reference is not None and reference.size == 600 and reference.embeddings is not None
    assert reference.source == "first_window"


def test_domain_shift_alerts_quickly_and_resolves_when_traffic_returns() -> None:
    monitor = ModelMonitor("ws", "m", "v1", CONFIG)
    run(monitor, stream(1500, seed=3))
    switch = monitor.events_seen
    shifted = run(monitor, stream(600, seed=4, words=WORDS_B, length=(5, 15), start=10_000))
    alerts = detected(shifted)
    assert alerts, "a new vocabulary and shorter texts must alert"
    first = min(seen for seen, _ in alerts) - switch
    assert first <= 150
    assert {"text_length", "oov_share", "embedding_drift"} <= {check for _, check in alerts}
    assert set(monitor.alerting()) >= {"text_length", "oov_share"}
    back = run(monitor, stream(800, seed=5, start=20_000))
    resolved = {r.check for e in back for t, r in e.transitions if t is Transition.RESOLVED}
    assert {"text_length", "oov_share"} <= resolved
    assert monitor.alerting() == []


def test_label_prior_shift_alerts_on_the_label_distribution() -> None:
    monitor = ModelMonitor("ws", "m", "v1", CONFIG)
    run(monitor, stream(1500, seed=6))
    evaluations = run(monitor, stream(600, seed=7, positive=0.85, start=10_000))
    assert "label_distribution" in {check for _, check in detected(evaluations)}


def test_accuracy_alert_from_feedback() -> None:
    monitor = ModelMonitor("ws", "m", "v1", CONFIG)
    good = [("a", "a")] * 170 + [("a", "b")] * 30  # 85% accurate reference
    assert monitor.observe_feedback(good) == []
    quiet = monitor.observe_feedback((good * 2)[:400])
    assert quiet and not any(e.transitions for e in quiet)
    assert 0.8 < quiet[-1].summary["accuracy"] < 0.9
    bad = [("a", "a")] * 60 + [("a", "b")] * 40
    evaluations = monitor.observe_feedback(bad * 4)
    assert any(t is Transition.DETECTED and r.check == "accuracy" for e in evaluations for t, r in e.transitions)
