"""Ingest benchmark: the 49,990 IMDb unsup reviews through the SDK, then production predictions.

Starts its own embedded stack and the annotate + ingest services (temporary state folder,
free ports), creates a dataset and an API key directly in MongoDB, and measures:

* accepted_per_s   — records acknowledged with 202 (i.e. by Kafka) per second of logging;
* records_per_s    — records from the first request to the last one stored in MongoDB by
                     annotate's consumer (the store path usually bounds this: see the printed lag);
* request_p95_ms   — p95 latency of the records:bulk requests;
* ingest_peak_rss_mb — peak resident memory of the ingest process (psutil);
* predictions_per_s — predictions accepted per second through predictions:bulk.

    .venv/bin/python bench/ingest.py [--records 49990] [--predictions 50000] [--concurrency 4]

Last line: ``{"accepted_per_s": ..., "records_per_s": ..., "request_p95_ms": ...,
"ingest_peak_rss_mb": ..., "predictions_per_s": ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from claystream import Client
from claystream.datasets_local import read_jsonl_gz, shared_data_dir
from claystream.keys import new_key_document
from claystream_devstack.processes import free_port, read_pid
from claystream_devstack.servers import EmbeddedStack, StackPorts
from claystream_devstack.services import ServiceLauncher
from pymongo import MongoClient

WORKSPACE = "bench"
DATASET = "imdb-unsup"
GOALS = {"accepted_per_s": 20_000, "records_per_s": 8_000, "predictions_per_s": 10_000}


class TimingTransport(httpx.HTTPTransport):
    """Records the duration of every request (thread-safe append)."""

    def __init__(self) -> None:
        super().__init__()
        self.durations_ms: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        response.read()
        self.durations_ms.append((time.perf_counter() - started) * 1000)
        return response


class PeakRss:
    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._process.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(pids: dict[str, int | None]) -> dict[str, float]:
    """User + system CPU seconds so far of each process (not its children: the bench spawned the servers)."""
    out: dict[str, float] = {}
    for name, pid in pids.items():
        if pid is None:
            continue
        try:
            times = [psutil.Process(pid).cpu_times()]
        except psutil.Error:
            continue
        out[name] = sum(t.user + t.system for t in times)
    return out


def print_cpu(before: dict[str, float], after: dict[str, float], items: int, what: str) -> None:
    if not items:
        print(f"CPU per {what}: none accepted")
        return
    parts = [f"{name} {(after[name] - before[name]) / items * 1e6:.0f} µs" for name in after if name in before]
    print(f"CPU per {what} (load-independent): " + ", ".join(parts))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def seed(mongo_url: str) -> str:
    mongo: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    try:
        db = mongo["claystream"]
        db["datasets"].insert_one({
            "_id": str(uuid.uuid4()), "workspace": WORKSPACE, "name": DATASET, "guidelines": "Sentiment of the review.",
            "fields": [{"name": "text", "title": "Review"}],
            "questions": [{"name": "label", "type": "label", "labels": ["positive", "negative"]}],
            "created_at": datetime.now(UTC),
        })
        document, plaintext = new_key_document(WORKSPACE, "bench", "annotator")
        db["api_keys"].insert_one(document)
        return plaintext
    finally:
        mongo.close()


def wait_stored(mongo_url: str, expected: int, *, timeout_s: float) -> tuple[float | None, int]:
    mongo: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    deadline = time.monotonic() + timeout_s
    count = 0
    try:
        while time.monotonic() < deadline:
            count = mongo["claystream"]["records"].estimated_document_count()  # a fresh database: all ours
            if count >= expected:
                return time.perf_counter(), count
            time.sleep(0.5)
        return None, count
    finally:
        mongo.close()


def run(args: argparse.Namespace, state_dir: Path) -> dict[str, Any]:
    stack = EmbeddedStack(state_dir, StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
    stack.start()
    launcher = ServiceLauncher(stack, extra_env={"CLAYSTREAM_INGEST_LOG_LEVEL": "WARNING"})
    try:
        services = ("ingest",) if args.without_annotate else ("annotate", "ingest")
        launcher.start(services)
        api_key = seed(stack.ports.mongo_url)
        rows = read_jsonl_gz(shared_data_dir() / "imdb" / "unsup.jsonl.gz")[: args.records]
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"machine: {os.cpu_count()} cores, load average {load} (other work on the machine skews these figures)")
        print(f"logging {len(rows)} IMDb reviews through the SDK (batches of {args.batch_size}, "
              f"{args.concurrency} in flight) to {launcher.url('ingest')}")
        transport = TimingTransport()
        ingest_pid = read_pid(state_dir, "ingest")
        assert ingest_pid is not None
        pids = {"ingest": ingest_pid, "SDK client": os.getpid(), "broker": read_pid(state_dir, "kafka"),
                "annotate": read_pid(state_dir, "annotate"),
                "mongo": read_pid(state_dir, "mongo-internal") or read_pid(state_dir, "mongo"),
                "redis": read_pid(state_dir, "redis")}
        with PeakRss(ingest_pid) as rss, Client(launcher.url("ingest"), api_key, transport=transport) as client:
            cpu_before = cpu_seconds(pids)
            started = time.perf_counter()
            result = client.log(rows, DATASET, fields=["text"], batch_size=args.batch_size,
                                concurrency=args.concurrency, progress=False)
            accepted_at = time.perf_counter()
            cpu_logged = cpu_seconds(pids)
            print_cpu(cpu_before, cpu_logged, result.accepted, "record while logging")
            accepted_per_s = result.accepted / (accepted_at - started)
            record_latencies = list(transport.durations_ms)
            print(f"accepted {result.accepted} records in {accepted_at - started:.2f}s: {accepted_per_s:,.0f}/s; "
                  f"p50 {percentile(record_latencies, 0.5):.0f} ms, p95 {percentile(record_latencies, 0.95):.0f} ms")
            if args.without_annotate:
                stored_at, stored = None, 0
                print("annotate not started (--without-annotate): records_per_s not measured")
            else:
                stored_at, stored = wait_stored(stack.ports.mongo_url, result.accepted, timeout_s=args.store_timeout)
                print_cpu(cpu_logged, cpu_seconds(pids), max(stored, 1), "record after the last 202 (store path)")
            if stored_at is None and args.without_annotate:
                records_per_s = float("nan")
            elif stored_at is None:
                print(f"MISS: only {stored} of {result.accepted} records stored after {args.store_timeout:.0f}s")
                records_per_s = stored / (time.perf_counter() - started)
            else:
                records_per_s = result.accepted / (stored_at - started)
                print(f"stored {stored} records in MongoDB {stored_at - started:.2f}s after the first request: "
                      f"{records_per_s:,.0f}/s; the last record was stored {stored_at - accepted_at:.2f}s after "
                      "the last 202")
            if stored_at is not None and stored_at - accepted_at > 0.2 * (accepted_at - started):
                print("bound: annotate's consumer (Kafka -> MongoDB store) sets records_per_s, not ingest")

            predictions_per_s = float("nan")
            if not args.predictions:
                print("predictions: skipped (--predictions 0)")
            else:
                predictions = [
                    {"request_id": f"req-{i}", "model": "imdb-sentiment", "model_version": "v1",
                     "text": rows[i % len(rows)]["text"][:400], "predicted_label": "positive" if i % 3 else "negative",
                     "scores": {"positive": 0.8, "negative": 0.2}, "dataset": DATASET}
                    for i in range(args.predictions)
                ]
                before = len(transport.durations_ms)
                cpu_before = cpu_seconds(pids)
                started = time.perf_counter()
                logged = client.log_predictions(predictions, batch_size=args.prediction_batch, concurrency=args.concurrency)
                elapsed = time.perf_counter() - started
                print_cpu(cpu_before, cpu_seconds(pids), logged.accepted, "prediction")
                predictions_per_s = logged.accepted / elapsed
                prediction_latencies = transport.durations_ms[before:]
                print(f"accepted {logged.accepted} predictions in {elapsed:.2f}s: {predictions_per_s:,.0f}/s "
                      f"(batches of {args.prediction_batch}; p95 {percentile(prediction_latencies, 0.95):.0f} ms)")
        peak_mb = rss.peak / 2**20
        print(f"ingest peak RSS {peak_mb:.0f} MB")
        return {
            "accepted_per_s": round(accepted_per_s, 1),
            "records_per_s": round(records_per_s, 1) if records_per_s == records_per_s else None,
            "request_p95_ms": round(percentile(record_latencies, 0.95), 1),
            "ingest_peak_rss_mb": round(peak_mb, 1),
            "predictions_per_s": round(predictions_per_s, 1) if predictions_per_s == predictions_per_s else None,
        }
    finally:
        launcher.stop(("annotate", "ingest"))  # stopping one never started is a no-op
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=49_990)
    parser.add_argument("--predictions", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--prediction-batch", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--store-timeout", type=float, default=180.0)
    parser.add_argument("--keep", action="store_true", help="keep the state folder (logs) afterwards")
    parser.add_argument("--without-annotate", action="store_true",
                        help="ingest alone: accepted_per_s without annotate's consumer competing for the CPUs")
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="claystream-bench-ingest-"))
    try:
        figures = run(args, state_dir)
    finally:
        if not args.keep:
            shutil.rmtree(state_dir, ignore_errors=True)
    for key, goal in GOALS.items():
        if figures[key] is None:  # not measured
            continue
        verdict = "ok" if figures[key] >= goal else "MISS"
        print(f"{verdict}: {key} {figures[key]:,.0f} (goal >= {goal:,})")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
