"""The demo the run command ends with: the walkthrough, and with ``--simulate`` the whole loop.

Set-up (always, idempotent): workspace ``demo``, dataset ``imdb_reviews`` (question ``sentiment``:
positive / negative, field ``text``, guidelines), an annotator with a generated password, an SDK API
key, and 100 random unlabelled IMDb reviews (seed 42) imported through the SDK.  The data comes from
``../shared/data`` (or ``$CLAYSTREAM_SHARED_DATA``) when present, else from the sample packaged with
devstack (``demo_data``), so the demo runs from the repository alone.

``--simulate``: an annotator labels IMDb train reviews through the HTTP API with their true labels;
the trainer trains and publishes suggestions; production traffic goes through the predict endpoint
(forwarded to the monitor), then switches to Rotten Tomatoes sentences; the drift alert and the
samples sent back appear.  Every wait is bounded: a step that times out is reported and the demo
goes on.  It ends with ``report.md`` and PNG plots in ``out_dir``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claystream_common.datasets import record_id_for

from claystream_devstack import demo_data
from claystream_devstack.demo_api import AnnotatorSession, DemoApi, ServiceUrls
from claystream_devstack.demo_learning import CurvePoint, curve_point, learn, wait_model_for, wait_suggestions
from claystream_devstack.demo_monitor import DriftWatch
from claystream_devstack.demo_report import write_report
from claystream_devstack.demo_setup import (
    Credentials,
    CredentialStore,
    ensure_annotator,
    ensure_api_key,
    ensure_dataset,
    import_records,
    mask_api_key,
    wait_stored,
)
from claystream_devstack.demo_steps import StepLog, StepResult, StepTimeout
from claystream_devstack.demo_traffic import TrafficLog, stream, wait_alert, wait_routed_back
from claystream_devstack.services import SERVICE_BY_NAME, ServiceLauncher


@dataclass(frozen=True)
class DemoConfig:
    """Sizes and bounds; the defaults are the full demo (≤ 15 minutes on 2 cores)."""

    workspace: str = "demo"
    dataset: str = "imdb_reviews"
    annotator: str = "annotator"
    seed: int = 42
    unlabelled: int = 100
    labelled: int = 120
    label_chunk: int = 20
    eval_size: int = 200
    stationary: int = 1300
    drifted: int = 700
    traffic_batch: int = 50
    traffic_budget_s: float = 240.0  # per phase (IMDb, then Rotten Tomatoes)
    wait_finetune: bool = True  # after the labels, wait (bounded) for the background fine-tune to land
    trainer: dict[str, Any] = field(default_factory=dict)  # dataset trainer settings (defaults when empty)
    store_wait_s: float = 120.0
    train_wait_s: float = 240.0
    learning_budget_s: float = 420.0  # labelling + waiting for models, fine-tune included (then traffic goes on)
    total_budget_s: float = 840.0  # every wait and traffic phase is cut to fit (the full demo: < 15 minutes)
    production_reserve_s: float = 300.0  # kept for the production part when the learning part is slow
    suggestion_wait_s: float = 120.0
    alert_wait_s: float = 90.0
    routed_wait_s: float = 120.0


@dataclass
class DemoOutcome:
    steps: StepLog
    credentials: Credentials | None = None
    report: Path | None = None
    curve: list[CurvePoint] = field(default_factory=list)
    traffic: TrafficLog | None = None
    watch: DriftWatch | None = None
    learning_deadline: float | None = None
    deadline: float = field(default_factory=lambda: time.monotonic() + 3600)

    def within(self, seconds: float) -> float:
        """``seconds``, cut to what is left of the demo's total budget (at least 1 s)."""
        return max(1.0, min(seconds, self.deadline - time.monotonic()))


def run_demo(launcher: ServiceLauncher, *, simulate: bool, out_dir: Path, config: DemoConfig | None = None) -> DemoOutcome:
    config = config or DemoConfig()
    started = time.monotonic()
    steps = StepLog()
    outcome = DemoOutcome(steps=steps, deadline=started + config.total_budget_s)
    urls = ServiceUrls(**{name: launcher.url(name) if name in launcher.ports else None
                          for name in ("annotate", "ingest", "trainer", "monitor")})
    api = DemoApi(urls, service_token=launcher.dev_secrets()["SERVICE_TOKEN"], workspace=config.workspace,
                  dataset=config.dataset)
    try:
        try:
            client = _set_up(launcher, api, config, steps, outcome)
        except Exception as error:  # noqa: BLE001 - a service refused a step: say so, keep the stack up
            steps.results.append(StepResult("set-up", "failed", 0.0, f"{type(error).__name__}: {error}"))
            print(f"demo: set-up failed: {type(error).__name__}: {error}")
            client = None
        if client is None:
            print("demo: set-up did not complete; see the messages above")
            return outcome
        _print_access(api, outcome.credentials)
        if simulate:
            try:
                _simulate(launcher, api, client, config, steps, outcome)
            except Exception as error:  # noqa: BLE001 - the report still says how far it got
                steps.results.append(StepResult("simulation", "failed", 0.0, f"{type(error).__name__}: {error}"))
                print(f"demo: simulation stopped: {type(error).__name__}: {error}")
            finally:
                client.close()
            steps.figures["demo_seconds"] = round(time.monotonic() - started, 1)
            outcome.report = _report(out_dir, steps, outcome, config)
            print(f"demo: report written to {outcome.report} (plots beside it)")
            _print_access(api, outcome.credentials)
        else:
            client.close()
    finally:
        api.close()
        demo_data.clear_cache()
    return outcome


def _set_up(launcher: ServiceLauncher, api: DemoApi, config: DemoConfig, steps: StepLog, outcome: DemoOutcome) -> Any:
    import claystream

    store = CredentialStore(launcher.stack.state_dir / "demo-credentials.json")
    annotate_env = launcher.env_for(SERVICE_BY_NAME["annotate"])
    credentials = steps.run("workspace and annotator", lambda: ensure_annotator(
        api, store, username=config.annotator, annotate_env=annotate_env))
    if credentials is None:
        return None
    outcome.credentials = credentials
    api_key = ensure_api_key_step(steps, api, store, credentials)
    if api_key is None or steps.run("dataset", lambda: ensure_dataset(api, config.trainer)) is None:
        return None
    client = claystream.Client(api.urls.ingest, api_key, api.urls.annotate)
    rows = demo_data.unlabelled_imdb(config.unlabelled, seed=config.seed)
    source = demo_data.describe_source(demo_data.UNLABELLED_IMDB)
    steps.run(f"import {len(rows)} unlabelled IMDb reviews from the {source} (SDK)",
              lambda: f"{import_records(client, rows, dataset=config.dataset, source='imdb_unsup')} accepted")
    steps.run("records stored in annotate",
              lambda: wait_stored(api, {str(r["id"]) for r in rows}, timeout_s=config.store_wait_s))
    return client


def ensure_api_key_step(steps: StepLog, api: DemoApi, store: CredentialStore, credentials: Credentials) -> str | None:
    """The step log shows only the key's id (``cs_<id>_…``), never its secret."""
    keys: list[str] = []

    def action() -> str:
        keys.append(ensure_api_key(api, store, credentials))
        return f"key {mask_api_key(keys[0])}"

    steps.run("SDK API key", action)
    return keys[0] if keys else None


def _print_access(api: DemoApi, credentials: Credentials | None) -> None:
    print()
    print(f"Annotation UI: {api.urls.annotate}/datasets/{api.workspace}/{api.dataset}")
    if credentials is not None:
        password = credentials.annotator_password or "(set by an earlier run; see its output)"
        print(f"  username {credentials.annotator_username}   password {password}")
        print(f"  SDK: claystream.Client({api.urls.ingest!r}, {credentials.api_key!r})")
    print()


def _simulate(launcher: ServiceLauncher, api: DemoApi, client: Any, config: DemoConfig, steps: StepLog,
              outcome: DemoOutcome) -> None:
    if not api.urls.trainer:
        steps.skip("simulation", "the trainer service is not running")
        return
    train = demo_data.balanced("imdb/train.jsonl.gz", config.labelled, seed=config.seed)
    evaluation = demo_data.sample("imdb/test.jsonl.gz", config.eval_size, seed=config.seed)
    production = demo_data.sample("imdb/test.jsonl.gz", config.stationary, seed=config.seed + 1,
                                  exclude={str(r["id"]) for r in evaluation})
    drifted = demo_data.sample("rt_polarity/sentences.jsonl.gz", config.drifted, seed=config.seed)
    steps.run(f"import {len(train)} labelled IMDb train reviews (SDK)",
              lambda: f"{import_records(client, train, dataset=config.dataset, source='imdb_train')} accepted")
    steps.run("labelled reviews stored", lambda: wait_stored(api, {str(r["id"]) for r in train},
                                                             timeout_s=outcome.within(config.store_wait_s)))
    truth = {record_id_for(config.workspace, config.dataset, str(r["id"])): str(r["label"]) for r in train}
    session = AnnotatorSession(api.urls.annotate, config.workspace, config.dataset)
    try:
        if steps.run("annotator logs in", lambda: _login(session, outcome.credentials)) is None:
            return
        already = session.submitted_ids()
        truth = {k: v for k, v in truth.items() if k not in already}
        steps.figures["labels_already_submitted"] = len(already)
        result = steps.run(f"simulated annotator labels {len(truth)} reviews; trainer learns",
                           lambda: _learn(api, session, truth, evaluation, config, outcome, len(already)))
    finally:
        session.close()
    if result is not None and config.wait_finetune:
        steps.run("fine-tuned model (background SetFit)", lambda: _finetuned(api, evaluation, config, outcome))
    if result is not None and outcome.curve:
        final = outcome.curve[-1]
        steps.figures.update({"final_model_version": final.model_version, "final_model_kind": final.kind,
                              "final_test_accuracy": final.test_accuracy, "final_label_count": final.label_count})
    steps.run("suggestions on pending records",
              lambda: _suggestions(api, outcome.within(config.suggestion_wait_s), steps))
    _production(launcher, api, client, config, steps, outcome, production, drifted)


def _suggestions(api: DemoApi, timeout_s: float, steps: StepLog) -> str:
    counts = wait_suggestions(api, timeout_s=timeout_s)
    steps.figures["pending_with_suggestions"] = counts["with_suggestions"]
    return f"{counts['with_suggestions']} of {counts['pending']} pending records carry a suggestion"


def _login(session: AnnotatorSession, credentials: Credentials | None) -> str:
    if credentials is None or not credentials.annotator_password:
        raise RuntimeError("the annotator's password is unknown (demo-credentials.json was removed); "
                           "delete the state folder or create a user with the annotate CLI")
    session.login(credentials.annotator_username, credentials.annotator_password)
    return credentials.annotator_username


def _learn(api: DemoApi, session: AnnotatorSession, truth: dict[str, str], evaluation: list[dict[str, Any]],
           config: DemoConfig, outcome: DemoOutcome, labelled_before: int) -> str:
    deadline = min(time.monotonic() + config.learning_budget_s, outcome.deadline - config.production_reserve_s)
    outcome.learning_deadline = deadline
    curve, timeouts = learn(api, session, truth, evaluation, chunk=config.label_chunk, train_wait_s=config.train_wait_s,
                            deadline=deadline, labelled_before=labelled_before)
    outcome.curve = curve
    if not curve:
        raise StepTimeout("no model was registered: " + "; ".join(timeouts[-2:]))
    note = f"; {len(timeouts)} wait(s) timed out: {timeouts[-1]}" if timeouts else ""
    return f"{len(curve)} model measurement(s){note}"


def _finetuned(api: DemoApi, evaluation: list[dict[str, Any]], config: DemoConfig, outcome: DemoOutcome) -> str:
    """Wait for a fine-tune the labels were due for (``finetune_every``), then measure the champion again."""
    every = int(((api.get_dataset() or {}).get("trainer") or {}).get("finetune_every", 64))
    labels = outcome.curve[-1].labels if outcome.curve else 0
    if labels < every:
        return f"not due ({labels} labels < finetune_every {every})"
    left = (outcome.learning_deadline or time.monotonic() + config.train_wait_s) - time.monotonic()
    model = wait_model_for(api, every, kind="finetune", timeout_s=max(1.0, min(config.train_wait_s, left)))
    point = curve_point(api, labels, evaluation)
    if point is not None:
        outcome.curve.append(point)
    accuracy = f"{point.test_accuracy:.3f}" if point and point.test_accuracy is not None else "n/a"
    return (f"{model.get('version')} on {model.get('label_count')} labels ({model.get('status')}); "
            f"champion {point.model_version if point else '?'} test accuracy {accuracy}")


def _production(launcher: ServiceLauncher, api: DemoApi, client: Any, config: DemoConfig, steps: StepLog,
                outcome: DemoOutcome, production: list[dict[str, Any]], drifted: list[dict[str, Any]]) -> None:
    if not outcome.curve:
        steps.skip("production traffic", "no champion model to serve predictions")
        return
    known = {str(r.get("external_id")) for r in api.all_records()}  # what the monitor sends back is new
    watch = DriftWatch(api.urls.monitor, launcher.stack.ports.kafka_bootstrap, config.dataset, config.workspace)
    traffic = TrafficLog()
    outcome.watch, outcome.traffic = watch, traffic
    watch.start()
    try:
        steps.run(f"production traffic: {len(production)} IMDb test reviews (predict → monitor, feedback → ingest)",
                  lambda: stream(api, client, production, phase="imdb", log=traffic, watch=watch,
                                 batch=config.traffic_batch, budget_s=outcome.within(config.traffic_budget_s)))
        traffic.drift_started_at_event, traffic.drift_started_at_s = traffic.predictions, watch.elapsed()
        steps.run(f"drift injected: {len(drifted)} Rotten Tomatoes sentences",
                  lambda: stream(api, client, drifted, phase="rotten_tomatoes", log=traffic, watch=watch,
                                 batch=config.traffic_batch, budget_s=outcome.within(config.traffic_budget_s)))
        alert = steps.run("drift alert raised", lambda: _alert(watch, traffic, outcome.within(config.alert_wait_s)))
        steps.run("samples routed back to annotation",
                  lambda: str(wait_routed_back(api, known, timeout_s=outcome.within(config.routed_wait_s))))
    finally:
        watch.stop()
    steps.figures.update({
        "predictions_sent": traffic.predictions, "feedback_sent": traffic.feedback,
        "accuracy_imdb_traffic": traffic.accuracy("imdb"), "accuracy_rotten_tomatoes_traffic": traffic.accuracy("rotten_tomatoes"),
        "drift_alerts": len(watch.detected()), "monitor_watch_errors": "; ".join(watch.errors[-3:]) or None,
        "events_after_switch_when_alert_seen":
            (traffic.first_alert_at_event - traffic.drift_started_at_event)
            if alert and traffic.first_alert_at_event is not None and traffic.drift_started_at_event is not None else None,
    })


def _alert(watch: DriftWatch, traffic: TrafficLog, timeout_s: float) -> str:
    found = wait_alert(watch, timeout_s=timeout_s)
    if traffic.first_alert_at_event is None:
        traffic.first_alert_at_event = traffic.predictions
    return f"{found.get('check')}: statistic {found.get('statistic')} > threshold {found.get('threshold')}"


def _report(out_dir: Path, steps: StepLog, outcome: DemoOutcome, config: DemoConfig) -> Path:
    header = [(f"Workspace `{config.workspace}`, dataset `{config.dataset}`; "
               f"{config.unlabelled} unlabelled + {config.labelled} labelled IMDb reviews (seed {config.seed}); "
               f"production: {config.stationary} IMDb test reviews, then {config.drifted} Rotten Tomatoes sentences.")]
    watch = outcome.watch
    return write_report(out_dir, steps, curve=outcome.curve, drift_points=watch.points if watch else [],
                        alerts=watch.alerts if watch else [],
                        drift_start_s=outcome.traffic.drift_started_at_s if outcome.traffic else None, header=header)
