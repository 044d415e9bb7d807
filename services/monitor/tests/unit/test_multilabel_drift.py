"""Multi-label predictions: each label's rate is tracked and its drift alerts; single-label models keep
exactly their checks and levels."""

from __future__ import annotations

import dataclasses

import numpy as np
from claystream_common.events import Envelope, PredictionLogged, new_event
from claystream_monitor.drift.hysteresis import Transition
from claystream_monitor.drift.monitor import DriftConfig, ModelMonitor
from claystream_monitor.drift.reference import Reference
from claystream_monitor.services.predictions import record_predictions
from monitor_synthetic import stream
from test_use_cases import KEY, make_ports

RATES = {"drama": 0.6, "comedy": 0.3, "horror": 0.1}


def genre_events(n: int, *, seed: int, rates: dict[str, float] = RATES) -> list[Envelope[PredictionLogged]]:
    rng = np.random.default_rng(seed)
    out = []
    for i, base in enumerate(stream(n, seed=seed)):
        labels = [g for g, rate in rates.items() if rng.random() < rate] or ["drama"]
        scores = {g: (0.8 if g in labels else 0.1) for g in rates}
        out.append(new_event("prediction.logged", PredictionLogged(
            request_id=f"{seed}-{i}", model="reviews", model_version="v1", text=base.text, predicted_label=labels[0],
            predicted_labels=labels, scores=scores), dataset="reviews", workspace="acme"))
    return out


async def feed(ports, batch, size: int = 80) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, len(batch), size):
        await record_predictions(batch[start:start + size], ports=ports)


async def test_each_label_rate_is_tracked_and_a_shifted_rate_alerts() -> None:
    ports = make_ports()
    await feed(ports, genre_events(900, seed=1))
    reference = Reference.from_document(ports.store.references[KEY.id])
    assert reference.label_rates is not None and set(reference.label_rates) == set(RATES)
    assert ports.store.alerts == []
    evaluations = ports.store.evaluations
    assert evaluations and "label_rates" in evaluations[-1]["summary"]
    assert ports.store.buckets[0]["label_sets"][0] is not None
    # horror triples, the top label (drama first) keeps its share: only the per-label rates move
    shifted = dict(RATES, horror=0.45)
    await feed(ports, genre_events(400, seed=2, rates=shifted))
    assert "label_rates" in (await ports.engine.monitor_for(KEY)).alerting()
    drifted = [a for a in ports.store.alerts if a["check"] == "label_rates"]
    assert drifted and drifted[0]["transition"] == "detected" and "horror" in drifted[0]["evidence"]["drifted"]
    sent = [r for d in ports.sink.deliveries for r in d["records"]]  # samples routed back to annotation
    assert sent and all(isinstance(r["suggestions"][0]["value"], list) for r in sent)  # a multi-label answer


def test_single_label_monitors_keep_their_checks_and_levels() -> None:
    config = DriftConfig(window_size=100, stride=50, reference_size=200, checks=("label_distribution", "text_length"))
    monitor = ModelMonitor("ws", "m", "v1", config)
    evaluations, reference = monitor.observe(stream(400, seed=3))
    assert reference is not None and reference.label_rates is None
    assert "label_rate_names" not in reference.to_document()
    assert set(monitor.alert_states()) == {"label_distribution", "text_length"}
    assert monitor.check_alpha() == config.check_alpha
    assert all({r.check for r in e.results} == {"label_distribution", "text_length"} for e in evaluations)


def test_multi_label_reference_round_trips_and_adds_one_check_to_the_family() -> None:
    config = DriftConfig(window_size=100, stride=50, reference_size=200, checks=("label_distribution", "text_length"))
    monitor = ModelMonitor("ws", "m", "v1", config)
    rng = np.random.default_rng(0)
    observations = [dataclasses.replace(o, labels=tuple(g for g in RATES if rng.random() < RATES[g]))
                    for o in stream(400, seed=4)]
    evaluations, reference = monitor.observe(observations)
    assert reference is not None and reference.label_rates is not None
    assert Reference.from_document(reference.to_document()).label_rates == reference.label_rates
    assert monitor.check_alpha() == config.alpha / 3
    assert all("label_rates" in {r.check for r in e.results} for e in evaluations)
    assert not any(t is Transition.DETECTED for e in evaluations for t, _ in e.transitions)
    restored = ModelMonitor("ws", "m", "v1", config)
    restored.restore_alert_states(monitor.alert_states())
    assert "label_rates" in restored.alert_states()
