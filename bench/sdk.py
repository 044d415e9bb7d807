"""SDK benchmark: log, iterate and search 50,000 IMDb reviews with 384-d vectors through the Python SDK.

Starts its own embedded stack with the annotate and ingest services (uvicorn child processes), then:

* logs the reviews with ``dataset.records.log`` (fields, metadata, a suggestion each, a 384-d vector
  each, and an existing label of a named annotator on every fifth record), timed until annotate stored
  every record and imported every response (records/s, end to end);
* iterates every record with its responses and suggestions through ``dataset.records()`` in a fresh
  child process (time, and that process's peak RSS: what the SDK needs to walk 50k records);
* asks ``dataset.records.similar`` for the top 10 of 200 records (p95 latency).

Vectors are deterministic random unit vectors (seeded by the review's position): computing MiniLM
embeddings for 50k reviews takes longer than the rest of the run on a 2-core machine, and the figures
measured here (transport, storage, search) do not depend on what the numbers mean.

    .venv/bin/python bench/sdk.py [--records 50000] [--queries 200] [--dims 384]

Last line: ``{"log_records_per_s", "iterate_50k_s", "similar_p95_ms", "sdk_peak_rss_mb", "records"}``.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import multiprocessing
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from claystream_devstack.processes import free_port
from claystream_devstack.pytest_plugin import shared_data_dir
from claystream_devstack.servers import EmbeddedStack, StackPorts
from claystream_devstack.services import ServiceLauncher

from claystream import ApiError, Client, FloatMetadataProperty, LabelQuestion, Settings, TextField, VectorField
from claystream.keys import create_api_key

WORKSPACE = "bench"
NAMES = ("annotate", "ingest")
GOALS = {"iterate_50k_s": 10.0, "similar_p95_ms": 100.0, "sdk_peak_rss_mb": 500.0}


def texts(limit: int) -> Iterator[str]:
    """IMDb reviews: the unsupervised split (49,990 reviews), then train and test; a synthetic stand-in
    text when the shared data is absent or runs out."""
    folder = shared_data_dir() / "imdb"

    def read() -> Iterator[str]:
        for split in ("unsup", "train", "test"):
            path = folder / f"{split}.jsonl.gz"
            if path.exists():
                with gzip.open(path, "rt", encoding="utf-8") as handle:
                    for line in handle:
                        yield json.loads(line)["text"]
        print(f"(shared IMDb data absent or used up under {folder}: synthetic review texts from here)")
        for i in itertools.count():
            yield f"review number {i}: the film was {'great' if i % 2 else 'dull'} and the plot ..."

    return itertools.islice(read(), limit)


def rows(count: int, dims: int, annotator: str) -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(7)
    for i, text in enumerate(texts(count)):
        vector = rng.standard_normal(dims).astype(np.float32)
        vector /= np.linalg.norm(vector)
        row: dict[str, Any] = {
            "external_id": str(i), "fields": {"text": text}, "metadata": {"length": float(len(text))},
            "suggestions": [{"question": "sentiment", "value": "positive" if i % 3 else "negative",
                             "score": round((i % 100) / 100, 2), "agent": "bench"}],
            "vectors": {"embedding": [round(float(v), 6) for v in vector]},
        }
        if i % 5 == 0:
            row["responses"] = [{"question": "sentiment", "value": "negative" if i % 2 else "positive", "user": annotator}]
        yield row


def iterate_in_child(urls: tuple[str, str, str], dataset: str, queue: Any) -> None:
    ingest, annotate, key = urls
    with Client(ingest, key, annotate_url=annotate) as client:
        records = client.datasets.get(dataset).records
        start = time.perf_counter()
        count = responses = suggestions = 0
        for record in records(with_responses=True, with_suggestions=True):
            count += 1
            responses += len(record.get("responses") or [])
            suggestions += len(record.get("suggestions") or [])
        seconds = time.perf_counter() - start
    queue.put({"count": count, "responses": responses, "suggestions": suggestions, "seconds": seconds,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"log_records_per_s": None, "iterate_50k_s": None, "similar_p95_ms": None,
                               "sdk_peak_rss_mb": None, "records": args.records}
    with tempfile.TemporaryDirectory(prefix="bench-sdk-") as state:
        stack = EmbeddedStack(Path(state), StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
        stack.start()
        db = f"bench{uuid.uuid4().hex[:8]}"
        env = {"CLAYSTREAM_ANNOTATE_OWNER_USERNAME": "owner", "CLAYSTREAM_ANNOTATE_OWNER_PASSWORD": "bench-owner-password-1",
               "CLAYSTREAM_ANNOTATE_OWNER_WORKSPACE": WORKSPACE, "CLAYSTREAM_ANNOTATE_OUTBOX_POLL_S": "0.2",
               "CLAYSTREAM_INGEST_RATE_LIMIT_PER_S": "100000", **dict(pair.split("=", 1) for pair in args.env)}
        for name in NAMES:
            env |= {f"CLAYSTREAM_{name.upper()}_MONGO_DB": db, f"CLAYSTREAM_{name.upper()}_LOG_JSON": "false"}
        launcher = ServiceLauncher(stack, extra_env=env)
        launcher.ports = {name: free_port() for name in NAMES}
        try:
            launcher.start(NAMES, timeout_s=180)
            key = create_api_key(stack.ports.mongo_url, workspace=WORKSPACE, name="bench", role="admin", db=db).plaintext
            urls = (launcher.url("ingest"), launcher.url("annotate"), key)
            with Client(urls[0], key, annotate_url=urls[1]) as client:
                client.users.create("bench-annotator", "bench-annotator-password", role="annotator")
                settings = Settings(fields=[TextField("text")], questions=[LabelQuestion("sentiment", ["positive", "negative"])],
                                    metadata=[FloatMetadataProperty("length")], vectors=[VectorField("embedding", args.dims)],
                                    trainer={"enabled": False})
                dataset = client.datasets.create("imdb-sdk", settings=settings)
                print(f"logging {args.records} records with {args.dims}-d vectors ...", flush=True)
                start = time.perf_counter()
                result = dataset.records.log(rows(args.records, args.dims, "bench-annotator"), responses_wait_s=600)
                stored = dataset.records.wait_stored(result.accepted, timeout_s=900)
                seconds = time.perf_counter() - start
                figures["log_records_per_s"] = round(stored / seconds, 1)
                print(f"log: {result.accepted} accepted, {stored} stored with responses in {seconds:.1f} s "
                      f"({figures['log_records_per_s']} records/s)", flush=True)
                context = multiprocessing.get_context("spawn")
                queue = context.Queue()
                child = context.Process(target=iterate_in_child, args=(urls, dataset.name, queue))
                child.start()
                walked = queue.get(timeout=900)
                child.join(timeout=60)
                figures["iterate_50k_s"] = round(walked["seconds"] * 50_000 / max(1, walked["count"]), 2)
                figures["sdk_peak_rss_mb"] = round(walked["peak_rss_mb"], 1)
                print(f"iterate: {walked['count']} records ({walked['responses']} responses, {walked['suggestions']} "
                      f"suggestions) in {walked['seconds']:.2f} s, scaled to 50k: {figures['iterate_50k_s']} s; "
                      f"peak RSS of the iterating process {figures['sdk_peak_rss_mb']} MB", flush=True)
                ids = [r["id"] for r in dataset.records(limit=args.queries, with_responses=False, with_suggestions=False)]
                latencies: list[float] = []
                try:
                    for record_id in ids:
                        begin = time.perf_counter()
                        found = dataset.records.similar(vector_name="embedding", record_id=record_id, k=10)
                        latencies.append((time.perf_counter() - begin) * 1000)
                        assert len(found) <= 10
                    figures["similar_p95_ms"] = round(percentile(latencies, 0.95), 1)
                    print(f"similar: {len(latencies)} top-10 queries, p50 {percentile(latencies, 0.5):.1f} ms, "
                          f"p95 {figures['similar_p95_ms']} ms", flush=True)
                except ApiError as error:
                    print(f"MISS similar: the similarity API answered {error.status_code} ({error}); not measured", flush=True)
        finally:
            launcher.stop(NAMES)
            stack.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra service settings")
    figures = run(parser.parse_args())
    for name, goal in GOALS.items():
        value = figures.get(name)
        if value is None or value > goal:
            print(f"MISS {name}: {value} (goal ≤ {goal})")
    print(json.dumps(figures))


if __name__ == "__main__":
    sys.exit(main())
