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
* annotate's outbox is drained (no response document with ``outbox_pending``; gauge ``claystream_outbox_backlog`` 0).

After the load, ``replay_duplicates`` already-delivered ``response.submitted`` events are published again
(same bytes, same event ids): the trainer must absorb them, so its counts stay equal to the labels submitted.
``duplicates_absorbed`` = duplicate ``response.submitted`` deliveries in the stream (messages minus distinct
event ids: the replays plus any outbox re-drive), which the trainer's count-once fence (Redis ``SET NX`` per
event id; its runner has no processed-event fence) absorbed - proven by counted == submitted - plus
``claystream_duplicates_absorbed_total`` of every service as scraped at the end (the runners' Mongo fences;
a process counter that restarts at 0 when its service is killed).

    .venv/bin/python bench/chaos.py [--records 20000] [--labels 1000] [--seed 7]

Last line: ``{"records_accepted", "records_stored", "labels_submitted", "labels_counted",
"duplicates_absorbed", "max_recovery_s"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from claystream_common.dlq_tool import read_topic
from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack, StackPorts
from claystream_devstack.services import SERVICES, ServiceLauncher
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient
from redis import Redis

WORKSPACE = "chaos"
DATASET = "imdb-chaos"
LABELS = ("positive", "negative")
RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass
class ChaosConfig:
    records: int = 20_000
    batch: int = 250
    records_per_s: float = 250.0  # paced so the kills land while records still flow
    annotators: int = 4
    labels: int = 1_000
    predictions: int = 2_000
    replay_duplicates: int = 100
    kill_order: tuple[str, ...] = ("ingest", "annotate", "trainer", "monitor")
    kill_gap_s: tuple[float, float] = (3.0, 12.0)
    seed: int = 7
    settle_timeout_s: float = 240.0
    data_file: Path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdb" / "unsup.jsonl.gz"


@dataclass
class Tally:
    """What clients saw (thread-safe by the GIL for these simple set/list operations)."""

    accepted: set[str] = field(default_factory=set)
    rejected: list[str] = field(default_factory=list)
    submitted: set[tuple[str, str]] = field(default_factory=set)  # (record_id, user_id)
    predictions_accepted: int = 0
    replayed: int = 0
    client_retries: Counter[str] = field(default_factory=Counter)
    recovery_s: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def fast_env() -> dict[str, str]:
    env = {
        "CLAYSTREAM_TRAINER_EMBEDDER": "hashing", "CLAYSTREAM_TRAINER_FINETUNE_ENABLED": "false",
        "CLAYSTREAM_TRAINER_DEBOUNCE_S": "0.5", "CLAYSTREAM_TRAINER_EMBED_FLUSH_S": "0.2",
        "CLAYSTREAM_MONITOR_EMBEDDER": "none", "CLAYSTREAM_ANNOTATE_OUTBOX_POLL_S": "0.2",
    }
    for spec in SERVICES:
        env |= {f"{spec.env_prefix}KAFKA_SESSION_TIMEOUT_MS": "6000", f"{spec.env_prefix}KAFKA_HEARTBEAT_INTERVAL_MS": "300",
                f"{spec.env_prefix}KAFKA_REBALANCE_TIMEOUT_MS": "6000", f"{spec.env_prefix}LOG_JSON": "false"}
    return env


@contextmanager
def running_system(state_dir: Path | None = None) -> Iterator[ServiceLauncher]:
    """A private stack and the four services; everything stopped (by pid) afterwards."""
    with tempfile.TemporaryDirectory(prefix="claystream-chaos-") as tmp:
        stack = EmbeddedStack(Path(state_dir or tmp), StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
        stack.start()
        launcher = ServiceLauncher(stack, extra_env=fast_env())
        launcher.ports = {spec.name: free_port() for spec in SERVICES}
        try:
            launcher.start(timeout_s=240)
            yield launcher
        finally:
            launcher.stop()
            stack.stop()


def service_headers(launcher: ServiceLauncher) -> dict[str, str]:
    return {"Authorization": f"Bearer {launcher.dev_secrets()['SERVICE_TOKEN']}", "X-Claystream-Workspace": WORKSPACE}


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


def call_with_retry(http: httpx.Client, method: str, url: str, tally: Tally, stop_at: float, **kwargs: Any) -> httpx.Response | None:
    """Retry connection errors and 429/5xx (same body: the APIs are idempotent) until ``stop_at``."""
    delay = 0.1
    while time.monotonic() < stop_at:
        try:
            response = http.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            tally.client_retries[type(error).__name__] += 1
        else:
            if response.status_code not in RETRY_STATUS:
                return response
            tally.client_retries[str(response.status_code)] += 1
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
    return None


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
            nxt = call_with_retry(http, "GET", f"{base}/queue/next", tally, stop_at)
            if nxt is None or nxt.status_code == 204:
                time.sleep(0.2)
                continue
            if nxt.status_code != 200:
                tally.errors.append(f"queue/next {nxt.status_code} {nxt.text[:200]}")
                time.sleep(0.5)
                continue
            record = nxt.json()
            record_id = str(record.get("id") or record.get("record", {}).get("id"))
            label = LABELS[int(record_id.replace("-", "")[-1], 16) % 2]
            put = call_with_retry(http, "PUT", f"{base}/records/{record_id}/response", tally, stop_at,
                                  json={"status": "submitted", "values": {"sentiment": label}})
            if put is not None and put.status_code == 200:
                tally.submitted.add((record_id, str(put.json()["user_id"])))
            elif put is not None:
                tally.errors.append(f"PUT response {put.status_code} {put.text[:200]}")


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
        deadline = time.monotonic() + 120  # annotators finish their target (records keep arriving)
        while len(tally.submitted) < cfg.labels and time.monotonic() < deadline and any(t.is_alive() for t in threads[2:]):
            time.sleep(0.5)
        done.set()
        for thread in threads[2:]:
            thread.join()
    return tally


def replay_label_events(launcher: ServiceLauncher, limit: int) -> int:
    """Re-publish up to ``limit`` already-delivered ``response.submitted`` events (same bytes, same event ids):
    the trainer must absorb them (fence) and count nothing twice."""

    async def replay() -> int:
        entries = [e for e in await read_topic(launcher.stack.ports.kafka_bootstrap, "responses")
                   if b'"response.submitted"' in (e.value or b"")][:limit]
        producer = AIOKafkaProducer(bootstrap_servers=launcher.stack.ports.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for entry in entries:
                await producer.send_and_wait("responses", entry.value, key=entry.key, headers=list(entry.headers))
        finally:
            await producer.stop()
        return len(entries)

    return asyncio.run(replay())


# --------------------------------------------------------------------------- checks
def label_event_duplicates(launcher: ServiceLauncher) -> int:
    """``response.submitted`` messages on the topic minus distinct event ids: deliveries the trainer must absorb.
    (The trainer's runner has no processed-event fence; its Redis ``SET NX trainer:counted:<event id>`` is the
    fence, so these do not show in ``claystream_duplicates_absorbed_total``.)"""
    entries = asyncio.run(read_topic(launcher.stack.ports.kafka_bootstrap, "responses"))
    ids = [json.loads(e.value)["event_id"] for e in entries if e.value and b'"response.submitted"' in e.value]
    return len(ids) - len(set(ids))


def metric_samples(url: str, family_name: str) -> list[tuple[dict[str, str], float]]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return [(dict(s.labels), s.value) for fam in text_string_to_metric_families(text) if fam.name == family_name
            for s in fam.samples if not s.name.endswith("_created")]


@dataclass
class Observed:
    records_stored: int = 0
    record_id_dupes: int = 0
    missing_records: int = 0
    responses_stored: int = 0
    missing_responses: int = 0
    labels_counted: int = 0
    trainer_status_labels: int = 0
    outbox_pending: int = 0
    outbox_gauge: float = 0.0
    max_lag: float = 0.0
    fence_absorbed: int = 0
    label_event_duplicates: int = 0
    predictions_stored: int = 0

    @property
    def duplicates_absorbed(self) -> int:
        return self.fence_absorbed + self.label_event_duplicates

    def settled(self, tally: Tally) -> bool:
        return (self.missing_records == 0 and self.missing_responses == 0 and self.outbox_pending == 0
                and self.labels_counted >= len(tally.submitted) and self.max_lag == 0
                and self.label_event_duplicates >= tally.replayed)


def observe(launcher: ServiceLauncher, tally: Tally) -> Observed:
    out = Observed()
    with MongoClient(launcher.stack.ports.mongo_url) as client:
        db = client["claystream"]
        ids = Counter(str(d.get("external_id")) for d in
                      db["records"].find({"workspace": WORKSPACE, "dataset": DATASET}, {"external_id": 1}))
        out.records_stored = sum(ids.values())
        out.record_id_dupes = sum(n - 1 for n in ids.values() if n > 1)
        out.missing_records = len(tally.accepted - set(ids))
        responses = list(db["responses"].find({"workspace": WORKSPACE, "status": "submitted"}, {"record_id": 1, "user_id": 1}))
        keys = {(str(r["record_id"]), str(r["user_id"])) for r in responses}
        out.responses_stored = len(responses)
        out.missing_responses = len(tally.submitted - keys)
        out.outbox_pending = db["responses"].count_documents({"outbox_pending": True})
        out.predictions_stored = sum(int(d.get("count", 0)) for d in db["monitor_predictions"].find({}, {"count": 1}))
    out.label_event_duplicates = label_event_duplicates(launcher)
    with Redis.from_url(launcher.stack.ports.redis_url, decode_responses=True) as redis:
        counts = redis.hgetall(f"trainer:counts:{WORKSPACE}:{DATASET}")
        out.labels_counted = sum(int(v) for k, v in counts.items() if k.startswith("class:"))
    try:
        status = httpx.get(f"{launcher.url('trainer')}/api/v1/models/{DATASET}/status", headers=service_headers(launcher), timeout=10)
        out.trainer_status_labels = sum(status.json().get("labels_per_class", {}).values()) if status.status_code == 200 else -1
        out.outbox_gauge = sum(v for _, v in metric_samples(launcher.url("annotate"), "claystream_outbox_backlog"))
        lags = [v for name in ("annotate", "trainer", "monitor")
                for _, v in metric_samples(launcher.url(name), "claystream_consumer_lag")]
        out.max_lag = max(lags, default=0.0)
        out.fence_absorbed = int(sum(v for spec in SERVICES
                                     for _, v in metric_samples(launcher.url(spec.name), "claystream_duplicates_absorbed")))
    except httpx.HTTPError as error:
        out.max_lag = -1
        tally.errors.append(f"metrics: {error!r}")
    return out


def settle(launcher: ServiceLauncher, tally: Tally, timeout_s: float) -> tuple[Observed, float]:
    started = time.monotonic()
    while True:
        seen = observe(launcher, tally)
        if seen.settled(tally) or time.monotonic() - started > timeout_s:
            return seen, time.monotonic() - started
        time.sleep(1.0)


def problems(tally: Tally, seen: Observed, cfg: ChaosConfig) -> list[str]:
    found = []
    if seen.missing_records:
        found.append(f"{seen.missing_records} accepted records not stored")
    if seen.record_id_dupes:
        found.append(f"{seen.record_id_dupes} records stored twice")
    if seen.missing_responses:
        found.append(f"{seen.missing_responses} submitted responses missing")
    if seen.responses_stored != len(tally.submitted):
        found.append(f"{seen.responses_stored} submitted responses stored, {len(tally.submitted)} submitted")
    if seen.labels_counted != len(tally.submitted):
        found.append(f"trainer counted {seen.labels_counted} labels, {len(tally.submitted)} submitted")
    if seen.outbox_pending or seen.outbox_gauge:
        found.append(f"outbox not drained: {seen.outbox_pending} pending documents, gauge {seen.outbox_gauge}")
    if seen.max_lag != 0:
        found.append(f"consumer lag {seen.max_lag} at the end")
    if seen.label_event_duplicates < tally.replayed:
        found.append(f"{tally.replayed} label events re-published, only {seen.label_event_duplicates} duplicates seen")
    if tally.rejected:
        found.append(f"{len(tally.rejected)} ingest batches not accepted, first: {tally.rejected[0]}")
    if set(tally.recovery_s) != set(cfg.kill_order):
        found.append(f"not every service was killed and recovered: {tally.recovery_s}")
    return found


def report(tally: Tally, seen: Observed, settle_s: float) -> dict[str, Any]:
    print(f"records accepted / stored:   {len(tally.accepted)} / {seen.records_stored} "
          f"(missing {seen.missing_records}, stored twice {seen.record_id_dupes}, rejected batches {len(tally.rejected)})")
    print(f"labels submitted / stored / counted: {len(tally.submitted)} / {seen.responses_stored} / {seen.labels_counted} "
          f"(trainer status labels_per_class total {seen.trainer_status_labels})")
    print(f"predictions accepted / stored by monitor: {tally.predictions_accepted} / {seen.predictions_stored}")
    print(f"duplicates absorbed: {seen.duplicates_absorbed} = {seen.label_event_duplicates} duplicate response.submitted "
          f"deliveries (same event id) the trainer's count-once fence absorbed + {seen.fence_absorbed} absorbed by the "
          f"runners' processed-event fences since each service's last start")
    print(f"outbox pending: {seen.outbox_pending} (gauge {seen.outbox_gauge}); max consumer lag: {seen.max_lag}")
    print(f"client retries: {dict(tally.client_retries)}; settled {settle_s:.1f}s after the load")
    for name, seconds in tally.recovery_s.items():
        print(f"recovery {name}: {seconds:.2f}s (kill -9 → /readyz 200)")
    for error in tally.errors[:10]:
        print(f"client error: {error}")
    return {"records_accepted": len(tally.accepted), "records_stored": seen.records_stored,
            "labels_submitted": len(tally.submitted), "labels_counted": seen.labels_counted,
            "duplicates_absorbed": seen.duplicates_absorbed,
            "max_recovery_s": max(tally.recovery_s.values(), default=None)}


def run_chaos(cfg: ChaosConfig) -> tuple[Tally, Observed, dict[str, Any], list[str]]:
    with running_system() as launcher:
        print(f"stack and services up: {', '.join(f'{n}={launcher.url(n)}' for n in launcher.ports)}", flush=True)
        tally = run_load(launcher, cfg)
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
    args = parser.parse_args(argv)
    cfg = ChaosConfig(records=args.records, labels=args.labels, records_per_s=args.rate, seed=args.seed)
    _, _, summary, found = run_chaos(cfg)
    for problem in found:
        print(f"MISS: {problem}")
    print(json.dumps(summary), flush=True)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
