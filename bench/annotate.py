"""Annotate benchmark: 100k IMDb records, 20 simulated annotators over HTTP.

Starts its own embedded stack and the annotate service (uvicorn child process), stores the
records through the service's own ``record.ingested`` handler (bulk inserts into MongoDB,
queue and counters in Redis), then measures over HTTP:

* storing the records through the ``record.ingested`` handler (records/s);
* "submit + next": answer the current record and get the next one, with human pacing (each
  annotator thinks ``--think-ms`` ±50% between records), twice: in one request (``POST
  queue/answer``, what the web UI's submit does; ``submit_next_*``), then in two (``PUT`` the
  response, ``GET queue/next``; ``submit_then_next_p95_ms``); then closed-loop in one request (no
  think time: the service's capacity, comparable with Label Studio's figure);
* the first page of the dataset list and of the bulk view (records API with filters);
* exporting a 50,000-record dataset with its responses as JSONL.

    .venv/bin/python bench/annotate.py [--records 100000] [--annotators 20] [--warmup-s 10] [--paced-s 30] [--closed-s 15]

Last line: ``{"submit_next_p50_ms", "submit_next_p95_ms", "submit_then_next_p95_ms", "dataset_list_ms",
"bulk_first_page_ms", "export_50k_s"}`` (submit + next figures from the paced phases).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from claystream_annotate.adapters.mongo_datasets import MongoDatasetStore
from claystream_annotate.adapters.mongo_records import MongoRecordRepository
from claystream_annotate.adapters.redis_queue import RedisCounters, RedisQueue
from claystream_annotate.consumers.handlers import on_records_ingested
from claystream_common.datasets import record_id_for
from claystream_common.events import Envelope, RecordIngested, RecordSuggestion, new_event
from claystream_devstack.processes import free_port, pid_alive, read_pid
from claystream_devstack.pytest_plugin import shared_data_dir
from claystream_devstack.servers import EmbeddedStack, StackPorts
from claystream_devstack.services import ServiceLauncher
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

OWNER, OWNER_PASSWORD = "bench-owner", "bench-owner-password-1"
WORKSPACE = "default"
API = "/api/v1/workspaces/default/datasets"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def imdb_texts() -> Iterator[tuple[str, str, int]]:
    """(text, label, rating) from the IMDb train+test splits, repeated as needed."""
    rows = []
    for split in ("train", "test"):
        with gzip.open(shared_data_dir() / "imdb" / f"{split}.jsonl.gz", "rt") as handle:
            rows.extend(json.loads(line) for line in handle)
    random.Random(7).shuffle(rows)
    for row in itertools.cycle(rows):
        yield row["text"], row["label"], int(row.get("rating") or 0)


def dataset_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "guidelines": "Is the review **positive** or **negative**?",
        "fields": [{"name": "text"}],
        "questions": [{"name": "sentiment", "type": "label", "labels": ["positive", "negative"]}],
        "metadata_properties": [{"name": "split", "type": "terms"}, {"name": "rating", "type": "integer"}],
    }


async def load_records(stack: EmbeddedStack, dataset: dict[str, Any], count: int, texts: Iterator[tuple[str, str, int]]) -> float:
    """Store ``count`` records through the ``record.ingested`` handler (batches of 1,000, as the
    consumer runner hands them over: upsert, queue, count); returns stored records/s."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.ports.mongo_url, tz_aware=True)
    redis = Redis.from_url(stack.ports.redis_url, decode_responses=True)
    db = mongo["claystream"]
    records, datasets = MongoRecordRepository(db), MongoDatasetStore(db)
    queue, counters = RedisQueue(redis), RedisCounters(redis)
    rng = random.Random(3)
    elapsed = 0.0
    batch: list[Envelope[Any]] = []
    for i in range(count):
        text, label, rating = next(texts)
        suggestions = [RecordSuggestion(question="sentiment", value=label, score=round(rng.random(), 3), agent="bench")] if i % 3 == 0 else []
        data = RecordIngested(record_id=record_id_for(WORKSPACE, dataset["name"], f"{dataset['name']}-{i}"), external_id=f"{dataset['name']}-{i}",
                              fields={"text": text}, metadata={"split": "even" if i % 2 == 0 else "odd", "rating": rating},
                              suggestions=suggestions, origin="bench")
        batch.append(new_event("record.ingested", data, dataset=dataset["name"], workspace=WORKSPACE))
        if len(batch) == 1000 or i == count - 1:
            started = time.perf_counter()
            await on_records_ingested(batch, records=records, datasets=datasets, queue=queue, counters=counters)
            elapsed += time.perf_counter() - started
            batch = []
    await redis.aclose()
    await mongo.close()
    return count / elapsed


async def login(client: httpx.AsyncClient, username: str, password: str) -> None:
    answer = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    answer.raise_for_status()
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]


async def annotate_loop(client: httpx.AsyncClient, dataset: str, *, until: float, think_s: float, latencies: list[float], errors: list[str],
                        one_request: bool) -> int:
    """One annotator: answer the current record, get the next; two requests (PUT the response, GET next)
    or one (POST queue/answer, as the web UI's submit does)."""
    rng = random.Random()
    current = await client.get(f"{API}/{dataset}/queue/next")
    record = current.json() if current.status_code == 200 else None
    done = 0
    while time.perf_counter() < until and record is not None:
        started = time.perf_counter()
        values = {"sentiment": rng.choice(["positive", "negative"])}
        if one_request:
            answer = await client.post(f"{API}/{dataset}/queue/answer", json={"record_id": record["id"], "status": "submitted", "values": values})
            record = answer.json()["next"] if answer.status_code == 200 else None
        else:
            answer = await client.put(f"{API}/{dataset}/records/{record['id']}/response", json={"status": "submitted", "values": values})
            current = await client.get(f"{API}/{dataset}/queue/next")
            record = current.json() if current.status_code == 200 else None
        latencies.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            errors.append(f"{answer.status_code} {answer.text[:200]}")
        done += 1
        if think_s:
            await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))
    return done


async def phase(clients: list[httpx.AsyncClient], dataset: str, seconds: float, think_s: float, *, one_request: bool = False) -> tuple[list[float], int, list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + seconds
    counts = await asyncio.gather(
        *(annotate_loop(c, dataset, until=until, think_s=think_s, latencies=latencies, errors=errors, one_request=one_request) for c in clients)
    )
    return latencies, sum(counts), errors


async def outbox_drained(client: httpx.AsyncClient, timeout_s: float = 120) -> None:
    """Wait until the relay published the bulk labels' events (not to measure its backlog later)."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        await asyncio.sleep(1)
        lines = [line for line in (await client.get("/metrics")).text.splitlines() if line.startswith("claystream_outbox_backlog")]
        if lines and all(line.endswith(" 0.0") for line in lines):
            return


async def timed_get(client: httpx.AsyncClient, url: str, repeat: int) -> tuple[float, float]:
    """(first, median) in ms."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        (await client.get(url)).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times[0], statistics.median(times)


async def run(stack: EmbeddedStack, base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    texts = imdb_texts()
    limits = httpx.Limits(max_connections=4)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as owner:
        await login(owner, OWNER, OWNER_PASSWORD)
        main = (await owner.post(API, json=dataset_body("imdb"))).json()
        export = (await owner.post(API, json=dataset_body("imdb-export"))).json()
        rate = await load_records(stack, main, args.records, texts)
        print(f"stored {args.records} records through the record.ingested handler: {rate:,.0f} records/s")
        await load_records(stack, export, args.export_records, texts)
        for i in range(args.annotators):
            (await owner.post(f"/api/v1/workspaces/{WORKSPACE}/users",
                              json={"username": f"annotator{i}", "password": "annotator-password", "role": "annotator"})).raise_for_status()
        labelled = (await owner.post(f"{API}/imdb-export/responses:bulk",
                                     json={"filter": {"metadata": {"split": ["even"]}, "suggested": "positive"},
                                           "values": {"sentiment": "positive"}})).json()
        print(f"export dataset: {args.export_records} records, {labelled['changed']} labelled through the bulk API")
        await outbox_drained(owner)

    clients = [httpx.AsyncClient(base_url=base_url, timeout=60) for _ in range(args.annotators)]
    try:
        await asyncio.gather(*(login(c, f"annotator{i}", "annotator-password") for i, c in enumerate(clients)))
        think_s = args.think_ms / 1000
        if args.warmup_s:  # the first seconds after loading run slower (the store settling): not measured
            _, warm_n, _ = await phase(clients, "imdb", args.warmup_s, think_s, one_request=True)
            print(f"warm-up: {warm_n} paced submits in {args.warmup_s:.0f} s, not measured")
        paced, paced_n, paced_errors = await phase(clients, "imdb", args.paced_s, think_s, one_request=True)
        print(f"paced ({args.annotators} annotators, think {args.think_ms:.0f} ms ±50%), one request (POST queue/answer, as the web UI): "
              f"{paced_n} submits ({paced_n / args.paced_s:.1f}/s), submit+next p50 {percentile(paced, .5):.1f} ms, "
              f"p95 {percentile(paced, .95):.1f} ms, p99 {percentile(paced, .99):.1f} ms, errors {len(paced_errors)}")
        pair, pair_n, pair_errors = await phase(clients, "imdb", args.paced_s, think_s, one_request=False)
        print(f"paced, two requests (PUT the response, GET queue/next): {pair_n} submits ({pair_n / args.paced_s:.1f}/s), "
              f"submit+next p50 {percentile(pair, .5):.1f} ms, p95 {percentile(pair, .95):.1f} ms, p99 {percentile(pair, .99):.1f} ms, "
              f"errors {len(pair_errors)}")
        closed, closed_n, closed_errors = await phase(clients, "imdb", args.closed_s, 0, one_request=True)
        print(f"closed loop ({args.annotators} annotators, no think time, one request): {closed_n / max(args.closed_s, 1e-9):.1f} submits/s, "
              f"submit+next p50 {percentile(closed, .5):.1f} ms, p95 {percentile(closed, .95):.1f} ms, errors {len(closed_errors)}")
        paced_errors += pair_errors
        for error in (paced_errors + closed_errors)[:3]:
            print("  error:", error)
    finally:
        for client in clients:
            await client.aclose()

    async with httpx.AsyncClient(base_url=base_url, timeout=300) as owner:
        await login(owner, OWNER, OWNER_PASSWORD)
        await asyncio.sleep(2)  # let the outbox relay drain
        list_first, list_ms = await timed_get(owner, API, 20)
        print(f"dataset list: first {list_first:.1f} ms, median {list_ms:.1f} ms")
        bulk_url = f"{API}/imdb/records?limit=50&status=pending&metadata.split=odd&suggested=negative&score_min=0.2"
        bulk_first, bulk_ms = await timed_get(owner, bulk_url, 10)
        print(f"bulk view first page (status + metadata + suggestion + score filters): first {bulk_first:.1f} ms, median {bulk_ms:.1f} ms")
        _, plain_ms = await timed_get(owner, f"{API}/imdb/records?limit=50", 10)
        _, search_ms = await timed_get(owner, f"{API}/imdb/records?limit=50&q=masterpiece", 5)
        print(f"records first page unfiltered: median {plain_ms:.1f} ms; text search 'masterpiece': median {search_ms:.1f} ms")
        started = time.perf_counter()
        lines = 0
        with_responses = 0
        async with owner.stream("GET", f"{API}/imdb-export/export?format=jsonl") as answer:
            answer.raise_for_status()
            async for chunk in answer.aiter_bytes():
                lines += chunk.count(b"\n")
                with_responses += chunk.count(b'"responses":[{')
        export_s = time.perf_counter() - started
        print(f"export JSONL: {lines} records ({with_responses} with responses) in {export_s:.2f} s")
        backlog = [line for line in (await owner.get("/metrics")).text.splitlines() if line.startswith("claystream_outbox_backlog")]
        print("outbox:", *backlog)
    return {
        "submit_next_p50_ms": round(percentile(paced, .5), 2),
        "submit_next_p95_ms": round(percentile(paced, .95), 2),
        "submit_then_next_p95_ms": round(percentile(pair, .95), 2),
        "dataset_list_ms": round(list_ms, 2),
        "bulk_first_page_ms": round(bulk_ms, 2),
        "export_50k_s": round(export_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--export-records", type=int, default=50_000)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--paced-s", type=float, default=30)
    parser.add_argument("--closed-s", type=float, default=15)
    parser.add_argument("--think-ms", type=float, default=1000)
    parser.add_argument("--warmup-s", type=float, default=10, help="paced annotating before the measured phases")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory(prefix="bench-annotate-") as folder:
        state = Path(folder)
        stack = EmbeddedStack(state, StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
        stack.start()
        launcher = ServiceLauncher(stack, extra_env={
            "CLAYSTREAM_ANNOTATE_OWNER_USERNAME": OWNER,
            "CLAYSTREAM_ANNOTATE_OWNER_PASSWORD": OWNER_PASSWORD,
            "CLAYSTREAM_ANNOTATE_LOG_LEVEL": "WARNING",
            "CLAYSTREAM_ANNOTATE_LOGIN_RATE_PER_MINUTE": "1000",
            **{k: v for k, v in os.environ.items() if k.startswith("CLAYSTREAM_ANNOTATE_")},  # tune the service under test
        })
        launcher.ports["annotate"] = free_port()  # not 8000: a dev stack may own it
        try:
            launcher.start(("annotate",))
            result = asyncio.run(run(stack, launcher.url("annotate"), args))
        except BaseException:
            log = state / "logs" / "annotate.log"
            pid = read_pid(state, "annotate")
            print(f"annotate pid {pid} alive: {pid is not None and pid_alive(pid)}")
            print("annotate log tail:\n" + (log.read_text(errors="replace")[-4000:] if log.exists() else "(none)"))
            raise
        finally:
            launcher.stop(("annotate",))
            stack.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
