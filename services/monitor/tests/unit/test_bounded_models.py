"""Issue 17 finding 7: client-chosen model names and versions cannot grow the monitor's memory or
its Prometheus label sets without limit."""

from __future__ import annotations

from claystream_common.events import PredictionLogged, new_event
from claystream_monitor.metrics import OTHER_MODELS, PREDICTIONS_SEEN, ModelLabels
from claystream_monitor.services.engine import MonitorEngine
from claystream_monitor.services.predictions import record_predictions
from prometheus_client import REGISTRY
from test_use_cases import CONFIG, make_ports


def predictions(workspace: str, model: str, version: str, count: int = 3) -> list:  # type: ignore[type-arg]
    return [new_event("prediction.logged", PredictionLogged(request_id=f"{model}-{version}-{i}", model=model, model_version=version,
                                                            text="a fine film", predicted_label="positive", scores={"positive": 0.9}),
                      workspace=workspace) for i in range(count)]


async def test_live_monitors_are_capped_and_a_noisy_workspace_evicts_its_own_first() -> None:
    ports = make_ports()
    engine = MonitorEngine(CONFIG, store=ports.store, embedder=None, max_live=10)
    ports = type(ports)(**{**ports.__dict__, "engine": engine})
    for version in ("v1", "v2"):
        await record_predictions(predictions("acme", "reviews", version), ports=ports)
    for i in range(500):  # one key holder cycles through client-chosen versions
        await record_predictions(predictions("spam", "m", f"v{i}", count=1), ports=ports)
        assert len(engine.known()) <= 10
    assert {(m.workspace, m.version) for m in engine.known() if m.workspace == "acme"} == {("acme", "v1"), ("acme", "v2")}
    assert engine.evicted == 492


def series_with_label(name: str) -> set[str]:
    return {s.labels["model"] for metric in REGISTRY.collect() if metric.name == name for s in metric.samples}


def test_model_labels_fold_names_past_the_cap_into_other() -> None:
    labels = ModelLabels(cap=3)
    assert [labels(f"m{i}") for i in range(6)] == ["m0", "m1", "m2", OTHER_MODELS, OTHER_MODELS, OTHER_MODELS]
    assert labels("m1") == "m1" and labels(None) == OTHER_MODELS


async def test_prometheus_series_stay_bounded_whatever_the_names() -> None:
    from claystream_monitor import metrics

    ports = make_ports()
    saved = metrics.MODEL_LABEL.cap
    metrics.MODEL_LABEL.cap = len(metrics.MODEL_LABEL._names) + 5
    try:
        for i in range(200):
            await record_predictions(predictions("spam", f"name-{i}", "v1", count=1), ports=ports)
    finally:
        metrics.MODEL_LABEL.cap = saved
    spam = {label for label in series_with_label(PREDICTIONS_SEEN._name) if label.startswith("name-")}
    assert len(spam) <= 5 and OTHER_MODELS in series_with_label(PREDICTIONS_SEEN._name)
