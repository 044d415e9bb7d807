"""Texts measured elsewhere (the service's worker process) or in the window's own thread: the window keeps and
concludes exactly the same."""

from __future__ import annotations

import dataclasses

import pytest
from claystream_monitor.drift.monitor import DriftConfig, ModelMonitor
from claystream_monitor.drift.text import oov_share, text_features, tokenize
from claystream_monitor.services import predictions
from monitor_synthetic import WORDS_B, stream
from test_use_cases import KEY, events, feed, make_ports


class InProcessTextFeatures:
    """The TextFeatures port without a process: what the worker computes, and how often it was asked."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def measure(self, texts: list[str], vocabulary: frozenset[str]) -> list[tuple[int, float]]:
        self.calls.append(len(texts))
        return text_features(texts, vocabulary)

    def close(self) -> None:
        pass


def outcome(ports: predictions.PredictionPorts) -> dict:
    store = ports.store
    return {
        "evaluations": [(e["index"], e["events_seen"], [(r["check"], r["statistic"], r["p_value"], r["breached"])
                                                        for r in e["results"]]) for e in store.evaluations],
        "alerts": [(a["check"], a["transition"]) for a in store.alerts],
        "samples": [r["metadata"]["request_id"] for r in ports.sink.records],
        "window": ports.engine.peek(KEY).snapshot()["window"],
    }


async def test_the_window_concludes_the_same_whether_its_texts_are_measured_by_a_worker_or_in_its_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(predictions, "OBSERVE_CHUNK", 7)  # batches of 80 cross several chunks and evaluation points
    stream_events = events(stream(500, seed=21) + stream(400, seed=22, words=WORDS_B, length=(4, 9), start=5_000))
    inline = make_ports(per_alert=5, per_hour=1000)
    await feed(inline, stream_events)
    worker = InProcessTextFeatures()
    measured = dataclasses.replace(make_ports(per_alert=5, per_hour=1000), text_features=worker)
    await feed(measured, stream_events)

    assert outcome(measured) == outcome(inline)
    assert outcome(inline)["alerts"], "the shift must alert, or this compares nothing"
    # the window's thread measures the batches up to the one that completes the 300-event reference (the 4th of
    # 80); every later text went to the worker
    assert sum(worker.calls) == 900 - 4 * 80 and max(worker.calls) == 7


def test_measured_features_are_those_of_tokenize_and_oov_share() -> None:
    texts = ["A <br /> GREAT film, isn't it?", "", "Ünïcode — naïve café", "plain words only"]
    vocabulary = frozenset({"a", "great", "film", "isn't", "it", "plain"})
    assert text_features(texts, vocabulary) == [(len(tokenize(t)), oov_share(tokenize(t), vocabulary)) for t in texts]


def test_features_need_the_reference_they_were_measured_under() -> None:
    monitor = ModelMonitor(None, "m", None, DriftConfig(reference_size=50, window_size=20, stride=10))
    with pytest.raises(ValueError, match="reference"):
        monitor.observe(stream(5, seed=1), features=[(3, 0.0)] * 5)
    monitor.observe(stream(50, seed=1))
    with pytest.raises(ValueError, match="one"):
        monitor.observe(stream(5, seed=2), features=[(3, 0.0)] * 4)
