"""The simulated demo through the real embedded stack, with a tiny training budget.

Kafka, MongoDB and Redis in a private state folder; the four services as uvicorn subprocesses on
free ports (ServiceLauncher); the trainer with its tiny hashing embedder and no fine-tune, the monitor
with small windows and no embedding model.  Asserts the whole loop: records stored, labels counted,
a model version registered with metrics, suggestions on pending records, predictions logged, a drift
alert raised, samples routed back, report files written — and that the set-up is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from claystream_devstack import demo_data
from claystream_devstack.demo import DemoConfig, DemoOutcome, run_demo
from claystream_devstack.demo_api import DemoApi, ServiceUrls
from claystream_devstack.demo_report import ACCURACY_PNG, DRIFT_PNG
from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack, StackPorts
from claystream_devstack.services import SERVICES, ServiceLauncher

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

TINY = DemoConfig(
    unlabelled=20, labelled=24, label_chunk=8, eval_size=20, stationary=150, drifted=150, traffic_batch=25,
    trainer={"refresh_every": 4, "min_per_label": 2, "finetune_every": 1000},
    store_wait_s=45, train_wait_s=45, suggestion_wait_s=45, alert_wait_s=45, routed_wait_s=45, wait_finetune=False,
)


def fast_test_env() -> dict[str, str]:
    env = {
        "CLAYSTREAM_TRAINER_EMBEDDER": "hashing", "CLAYSTREAM_TRAINER_DEBOUNCE_S": "0.3",
        "CLAYSTREAM_TRAINER_FINETUNE_ENABLED": "false", "CLAYSTREAM_TRAINER_CHAMPION_CACHE_S": "0",
        "CLAYSTREAM_TRAINER_EMBED_FLUSH_S": "0.1",
        "CLAYSTREAM_MONITOR_EMBEDDER": "none", "CLAYSTREAM_MONITOR_REFERENCE_SIZE": "50",
        "CLAYSTREAM_MONITOR_WINDOW_SIZE": "40", "CLAYSTREAM_MONITOR_WINDOW_STRIDE": "20",
        "CLAYSTREAM_MONITOR_SAMPLES_PER_ALERT": "10",
        "CLAYSTREAM_ANNOTATE_OUTBOX_POLL_S": "0.2",
    }
    for spec in SERVICES:  # quick group joins and rebalances
        env |= {f"{spec.env_prefix}KAFKA_SESSION_TIMEOUT_MS": "6000", f"{spec.env_prefix}KAFKA_HEARTBEAT_INTERVAL_MS": "300",
                f"{spec.env_prefix}KAFKA_REBALANCE_TIMEOUT_MS": "6000", f"{spec.env_prefix}LOG_JSON": "false"}
    return env


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceLauncher]:
    state = tmp_path_factory.mktemp("demo-stack")
    stack = EmbeddedStack(state, StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
    stack.start()
    services = ServiceLauncher(stack, extra_env=fast_test_env())
    services.ports = {spec.name: free_port() for spec in SERVICES}  # never the default 800x ports
    try:
        services.start(timeout_s=180)
        yield services
    finally:
        services.stop()
        stack.stop()


def api_for(launcher: ServiceLauncher) -> DemoApi:
    urls = ServiceUrls(**{spec.name: launcher.url(spec.name) for spec in SERVICES})
    return DemoApi(urls, service_token=launcher.dev_secrets()["SERVICE_TOKEN"], workspace=TINY.workspace,
                   dataset=TINY.dataset)


def test_set_up_twice_creates_nothing_twice(launcher: ServiceLauncher, tmp_path: Path) -> None:
    first = run_demo(launcher, simulate=False, out_dir=tmp_path, config=TINY)
    assert not first.steps.problems, first.steps.problems
    api = api_for(launcher)
    records, members = api.record_total(), api.members()
    second = run_demo(launcher, simulate=False, out_dir=tmp_path, config=TINY)
    assert not second.steps.problems, second.steps.problems
    assert api.record_total() == records == TINY.unlabelled
    assert api.members() == members and [m["username"] for m in members] == [TINY.annotator]
    assert second.credentials == first.credentials  # same password and API key: nothing re-created
    assert second.steps.status_of("dataset") == "ok" and "exists" in _detail(second, "dataset")


def test_set_up_works_from_the_repository_alone(launcher: ServiceLauncher, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh clone has no ../shared/data: the set-up imports from the sample packaged with devstack."""
    empty = tmp_path / "no-shared-data"
    empty.mkdir()
    monkeypatch.setenv("CLAYSTREAM_SHARED_DATA", str(empty))
    demo_data.clear_cache()
    config = replace(TINY, dataset="imdb_from_sample")
    outcome = run_demo(launcher, simulate=False, out_dir=tmp_path, config=config)
    assert not outcome.steps.problems, outcome.steps.problems
    assert any("from the packaged sample" in r.name for r in outcome.steps.results), outcome.steps.results
    api = DemoApi(api_for(launcher).urls, service_token=launcher.dev_secrets()["SERVICE_TOKEN"],
                  workspace=config.workspace, dataset=config.dataset)
    stored = {str(r["external_id"]) for r in api.all_records()}
    sample_ids = {str(r["id"]) for r in demo_data.rows_of(demo_data.UNLABELLED_IMDB)}
    assert len(stored) == config.unlabelled and stored <= sample_ids


def test_simulated_demo_closes_the_loop(launcher: ServiceLauncher, tmp_path: Path) -> None:
    outcome = run_demo(launcher, simulate=True, out_dir=tmp_path, config=TINY)
    api = api_for(launcher)
    problems = "; ".join(f"{p.name}: {p.status} {p.detail}" for p in outcome.steps.problems)

    # records stored (20 unlabelled + 24 labelled, plus whatever the monitor sent back)
    assert api.record_total() >= TINY.unlabelled + TINY.labelled, problems
    # labels counted by the trainer
    status = api.training_status()
    assert sum(status["labels_per_class"].values()) == TINY.labelled, status
    # a model version registered with metrics
    models = api.models()
    champion = next(m for m in models["items"] if m["version"] == models["champion"])
    assert champion["label_count"] >= 8 and "accuracy" in champion["metrics"], champion
    assert outcome.curve and outcome.curve[-1].test_accuracy is not None, problems
    # suggestions on pending records
    pending = api.all_records(status="pending")
    assert any(s["question"] == "sentiment" for r in pending for s in r["suggestions"]), problems
    # predictions logged: the monitor counted the forwarded traffic
    assert outcome.traffic is not None and outcome.traffic.predictions == TINY.stationary + TINY.drifted, problems
    assert monitor_predictions(launcher) >= TINY.stationary + TINY.drifted
    # drift alert raised, samples routed back
    assert outcome.steps.status_of("drift alert raised") == "ok", problems
    assert outcome.steps.status_of("samples routed back to annotation") == "ok", problems
    routed = [r for r in api.all_records() if str(r["external_id"]).startswith("monitor-")]
    assert routed and all(r["metadata"].get("origin") == "monitor" for r in routed), routed[:2]
    # report files written
    assert outcome.report is not None and outcome.report.read_text().startswith("# Claystream demo report")
    for name in (ACCURACY_PNG, DRIFT_PNG):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert not outcome.steps.problems, problems


def monitor_predictions(launcher: ServiceLauncher) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{launcher.url('monitor')}/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               if family.name == "claystream_monitor_predictions" for sample in family.samples
               if sample.name.endswith("_total") and TINY.dataset in sample.labels.get("model", ""))


def _detail(outcome: DemoOutcome, step: str) -> str:
    return next(r.detail for r in outcome.steps.results if r.name == step)
