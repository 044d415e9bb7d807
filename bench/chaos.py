"""Chaos benchmark: kill -9 each service in turn under load and prove nothing is lost or double-counted.

A private embedded stack (temporary folder, free ports) and the four services as uvicorn subprocesses; then:

* ingests N IMDb ``unsup`` reviews through ingest's HTTP API (``records:bulk``, paced, deterministic
  external ids so a retried batch never duplicates; retried on connection errors / 429 / 5xx);
* simulated annotators (one annotator-role API key each) take ``queue/next`` and submit a label through
  annotate's API (an unchanged re-submit is a no-op there, so retries are safe);
* a little production traffic (``predictions:bulk``) flows to the monitor;
* every service is killed with SIGKILL in turn (ingest, annotate, trainer, monitor) at seeded random
  moments and restarted; recovery time = kill → ``/readyz`` 200.

Then it lets the system settle and checks (MongoDB / Redis / ``/metrics`` read directly):

* every accepted record (202) is stored exactly once in annotate's ``records`` collection;
* every submitted response exists exactly once (``responses``) and was counted exactly once by the trainer.
  The trainer's exactly-once counter is the Redis hash ``trainer:counts:<ws>:<dataset>`` (fields
  ``class:<label>``, incremented once per event id by a Lua ``SET NX`` fence); its ``GET /status``
  ``labels_per_class`` is read too (that one is rebuilt from the ``trainer_labels`` collection).
  Training is switched off for the dataset so no refresh resets the per-class counters;
* no consumer is stuck (every ``claystream_consumer_lag`` sample is 0, all records and labels arrived);
* annotate's outbox is drained (no response document with ``outbox_pending``; gauge ``claystream_outbox_backlog`` 0);
* every stored record is in the annotation queue (Redis ``cs:q:<dataset id>``) or answered
  (``records_not_queued`` = pending records missing from it; must be 0);
* after the load an undecodable entry is put at the head of the outbox and a label submitted behind it:
  ``outbox_stuck_s`` = time until the relay moved past both (the poison in ``outbox_quarantine``; goal ≤ 5 s);
* feedback on the production predictions comes from their workspace (must join) and from another workspace
  reusing other request ids of theirs: ``cross_workspace_joins`` = those that joined (must be 0).

After the load, ``replay_duplicates`` already-delivered ``response.submitted`` events are published again
(same bytes, same event ids): the trainer must absorb them, so its counts stay equal to the labels submitted.
``duplicates_absorbed`` = duplicate ``response.submitted`` deliveries in the stream (messages minus distinct
event ids: the replays plus any outbox re-drive), which the trainer's count-once fence (Redis ``SET NX`` per
event id; its runner has no processed-event fence) absorbed - proven by counted == submitted - plus
``claystream_duplicates_absorbed_total`` of every service as scraped at the end (the runners' Mongo fences;
a process counter that restarts at 0 when its service is killed).

    .venv/bin/python bench/chaos.py [--records 20000] [--labels 1000] [--seed 7]

Helpers live next to it: ``chaos_support.py`` (the system, clients, reads) and ``chaos_checks.py`` (invariants).
Last line: ``{"records_accepted", "records_stored", "labels_submitted", "labels_counted",
"duplicates_absorbed", "max_recovery_s", "records_not_queued", "outbox_stuck_s", "cross_workspace_joins"}``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from claystream_devstack.services import ServiceLauncher

from chaos_checks import Observed, poison_the_outbox, problems, report, settle
from chaos_support import (
    DATASET,
    LABELS,
    OTHER_WORKSPACE,
    WORKSPACE,
    Tally,
    call_with_retry,
    label_next,
    replay_label_events,
    running_system,
    service_headers,
)


@dataclass
class ChaosConfig:
    records: int = 20_000
    batch: int = 250
    records_per_s: float = 250.0  # paced so the kills land while records still flow
    annotators: int = 4
    labels: int = 1_000
    predictions: int = 2_000
    replay_duplicates: int = 100
    feedback: int = 200  # feedback items from each of the two workspaces
    outbox_probe_timeout_s: float = 30.0
    kill_order: tuple[str, ...] = ("ingest", "annotate", "trainer", "monitor")
    kill_gap_s: tuple[float, float] = (3.0, 12.0)
    seed: int = 7
    settle_timeout_s: float = 240.0
    data_file: Path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdb" / "unsup.jsonl.gz"


def set_up(launcher: ServiceLauncher, annotators: int) -> list[str]:
    """The dataset (training off: counters are never consumed) and one annotator API key per simulated annotator."""
    base = f"{launcher.url('annotate')}/api/v1/workspaces/{WORKSPACE}"
    with httpx.Client(headers=service_headers(launcher), timeout=30) as http:
        body = {"name": DATASET, "fields": [{"name": "text"}],
                "questions": [{"name": "sentiment", "type": "label", "labels": list(LABELS)}],
                "trainer": {"enabled": False, "refresh_every": 10**9, "finetune_every": 10**9}}
        created = http.post(f"{base}/datasets", json=body)
        if created.status_code not in (201, 409):
            raise RuntimeError(f"dataset: {created.status_code} {created.text[:300]}")
        keys = []
        for number in range(annotators):
            answer = http.post(f"{base}/api-keys", json={"name": f"annotator-{number}", "role": "annotator"})
            if answer.status_code != 201:
                raise RuntimeError(f"api key: {answer.status_code} {answer.text[:300]}")
            keys.append(answer.json()["api_key"])
    return keys


def read_reviews(path: Path, limit: int) -> list[dict[str, Any]]:
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            rows.append({"external_id": f"imdb-{row['id']}", "fields": {"text": row["text"]}})
            if len(rows) >= limit:
                break
    return rows


def ingest_records(launcher: ServiceLauncher, rows: list[dict[str, Any]], cfg: ChaosConfig, tally: Tally, stop_at: float) -> None:
    url = f"{launcher.url('ingest')}/api/v1/datasets/{DATASET}/records:bulk"
    started = time.monotonic()
    with httpx.Client(headers=service_headers(launcher), timeout=30) as http:
        for offset in range(0, len(rows), cfg.batch):
            batch = rows[offset:offset + cfg.batch]
            due = started + offset / cfg.records_per_s
            time.sleep(max(0.0, due - time.monotonic()))
            answer = call_with_retry(http, "POST", url, tally, stop_at, json={"items": batch})
            if answer is not None and answer.status_code == 202:
                tally.accepted.update(r["external_id"] for r in batch)
            else:
                what = "gave up" if answer is None else f"{answer.status_code} {answer.text[:200]}"
                tally.rejected.append(f"batch at {offset}: {what}")


def send_predictions(launcher: ServiceLauncher, cfg: ChaosConfig, tally: Tally, stop_at: float) -> None:
    url = f"{launcher.url('ingest')}/api/v1/predictions:bulk"
    rng = random.Random(cfg.seed)
    with httpx.Client(headers=service_headers(launcher), timeout=30) as http:
        for offset in range(0, cfg.predictions, 100):
            items = [{"request_id": f"chaos-{n}", "model": DATASET, "model_version": "v1", "text": f"review {n}",
                      "predicted_label": rng.choice(LABELS), "scores": {"positive": 0.5, "negative": 0.5}}
                     for n in range(offset, min(offset + 100, cfg.predictions))]
            answer = call_with_retry(http, "POST", url, tally, stop_at, json={"items": items})
            if answer is not None and answer.status_code == 202:
                tally.predictions_accepted += len(items)
            time.sleep(0.2)


def annotate_loop(launcher: ServiceLauncher, api_key: str, cfg: ChaosConfig, tally: Tally, done: threading.Event, stop_at: float) -> None:
    base = f"{launcher.url('annotate')}/api/v1/workspaces/{WORKSPACE}/datasets/{DATASET}"
    with httpx.Client(headers={"X-API-Key": api_key}, timeout=30) as http:
        while not done.is_set() and len(tally.submitted) < cfg.labels and time.monotonic() < stop_at:
            label_next(http, base, tally, stop_at)


def send_feedback(launcher: ServiceLauncher, cfg: ChaosConfig, tally: Tally, stop_at: float) -> None:
    """Feedback on the production predictions: some from their own workspace (must join), and from
    another workspace reusing other request ids of theirs (must never join: request ids are per workspace)."""
    url = f"{launcher.url('ingest')}/api/v1/feedback:bulk"
    same = [f"chaos-{n}" for n in range(min(cfg.feedback, cfg.predictions // 2))]
    other = [f"chaos-{n}" for n in range(len(same), min(len(same) + cfg.feedback, cfg.predictions))]
    for workspace, ids, sent in ((WORKSPACE, same, tally.feedback_same_workspace), (OTHER_WORKSPACE, other, tally.feedback_other_workspace)):
        headers = {**service_headers(launcher), "X-Claystream-Workspace": workspace}
        with httpx.Client(headers=headers, timeout=30) as http:
            for offset in range(0, len(ids), 100):
                items = [{"request_id": rid, "model": DATASET, "true_label": LABELS[0]} for rid in ids[offset:offset + 100]]
                answer = call_with_retry(http, "POST", url, tally, stop_at, json={"items": items})
                if answer is not None and answer.status_code == 202:
                    sent.extend(i["request_id"] for i in items)
                else:
                    tally.errors.append(f"feedback: {answer.status_code if answer is not None else 'gave up'}")


def chaos_loop(launcher: ServiceLauncher, cfg: ChaosConfig, tally: Tally) -> None:
    rng = random.Random(cfg.seed)
    for name in cfg.kill_order:
        time.sleep(rng.uniform(*cfg.kill_gap_s))
        launcher.kill(name)
        killed = time.monotonic()
        print(f"killed {name} (SIGKILL)", flush=True)
        launcher.start_one(name)
        launcher.wait_ready((name,), timeout_s=180)
        tally.recovery_s[name] = round(time.monotonic() - killed, 2)
        print(f"  {name} ready again after {tally.recovery_s[name]:.1f}s", flush=True)


def run_load(launcher: ServiceLauncher, cfg: ChaosConfig) -> Tally:
    tally = Tally()
    keys = set_up(launcher, cfg.annotators)
    rows = read_reviews(cfg.data_file, cfg.records)
    stop_at = time.monotonic() + cfg.records / cfg.records_per_s + 300
    done = threading.Event()
    threads = [threading.Thread(target=ingest_records, args=(launcher, rows, cfg, tally, stop_at), name="ingest"),
               threading.Thread(target=send_predictions, args=(launcher, cfg, tally, stop_at), name="predictions")]
    threads += [threading.Thread(target=annotate_loop, args=(launcher, key, cfg, tally, done, stop_at), name=f"annotator-{i}")
                for i, key in enumerate(keys)]
    for thread in threads:
        thread.start()
    try:
        chaos_loop(launcher, cfg, tally)
    finally:
        threads[0].join()
        threads[1].join()
        send_feedback(launcher, cfg, tally, stop_at)
        deadline = time.monotonic() + 120  # annotators finish their target (records keep arriving)
        while len(tally.submitted) < cfg.labels and time.monotonic() < deadline and any(t.is_alive() for t in threads[2:]):
            time.sleep(0.5)
        done.set()
        for thread in threads[2:]:
            thread.join()
    return tally


def run_chaos(cfg: ChaosConfig) -> tuple[Tally, Observed, dict[str, Any], list[str]]:
    with running_system() as launcher:
        print(f"stack and services up: {', '.join(f'{n}={launcher.url(n)}' for n in launcher.ports)}", flush=True)
        tally = run_load(launcher, cfg)
        tally.outbox_stuck_s = poison_the_outbox(launcher, tally, timeout_s=cfg.outbox_probe_timeout_s)
        print(f"outbox: relay moved past a poison entry in {tally.outbox_stuck_s if tally.outbox_stuck_s is not None else 'never'} s", flush=True)
        tally.replayed = replay_label_events(launcher, cfg.replay_duplicates)
        print(f"re-published {tally.replayed} delivered response.submitted events (duplicates by event id)", flush=True)
        seen, settle_s = settle(launcher, tally, cfg.settle_timeout_s)
        summary = report(tally, seen, settle_s)
        return tally, seen, summary, problems(tally, seen, cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=ChaosConfig.records)
    parser.add_argument("--labels", type=int, default=ChaosConfig.labels)
    parser.add_argument("--rate", type=float, default=ChaosConfig.records_per_s, help="records/s sent")
    parser.add_argument("--seed", type=int, default=ChaosConfig.seed)
    parser.add_argument("--data", type=Path, default=ChaosConfig.data_file, help="IMDb unsup.jsonl.gz")
    args = parser.parse_args(argv)
    cfg = ChaosConfig(records=args.records, labels=args.labels, records_per_s=args.rate, seed=args.seed, data_file=args.data)
    _, _, summary, found = run_chaos(cfg)
    for problem in found:
        print(f"MISS: {problem}")
    print(json.dumps(summary), flush=True)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
