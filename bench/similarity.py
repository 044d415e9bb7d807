"""Similarity search benchmark: top-10 over 50,000 records with 384-d vectors, through annotate's HTTP API.

Starts its own embedded stack and the annotate service (uvicorn child process), stores the records
through the service's own ``record.ingested`` handler (vectors included), then measures over HTTP:

* the first query (it builds the in-service index from MongoDB);
* 200 queries "similar to record X" (k=10), unfiltered: p50 / p95;
* 50 queries with a filter (metadata term + record status): p95.

    .venv/bin/python bench/similarity.py [--records 50000] [--dims 384] [--queries 200]

Last line: ``{"records", "dimensions", "index_build_s", "similar_p50_ms", "similar_p95_ms", "similar_filtered_p95_ms"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from claystream_annotate.adapters.mongo_datasets import MongoDatasetStore
from claystream_annotate.adapters.mongo_records import MongoRecordRepository
from claystream_annotate.adapters.redis_queue import RedisCounters, RedisQueue
from claystream_annotate.consumers.handlers import on_records_ingested
from claystream_common.datasets import record_id_for
from claystream_common.events import Envelope, RecordIngested, new_event
from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack, StackPorts
from claystream_devstack.services import ServiceLauncher
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

OWNER, OWNER_PASSWORD = "bench-owner", "bench-owner-password-1"
WORKSPACE, DATASET = "default", "vectors"
API = f"/api/v1/workspaces/{WORKSPACE}/datasets"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


async def load_records(stack: EmbeddedStack, count: int, dims: int) -> tuple[float, list[str]]:
    """``count`` records with a ``dims``-d vector each, through the ``record.ingested`` handler (batches of 500)."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.ports.mongo_url, tz_aware=True)
    redis = Redis.from_url(stack.ports.redis_url, decode_responses=True)
    db = mongo["claystream"]
    records, datasets = MongoRecordRepository(db), MongoDatasetStore(db)
    queue, counters = RedisQueue(redis), RedisCounters(redis)
    rng = np.random.default_rng(5)
    ids: list[str] = []
    batch: list[Envelope[Any]] = []
    started = time.perf_counter()
    for i in range(count):
        record_id = record_id_for(WORKSPACE, DATASET, f"r{i}")
        ids.append(record_id)
        vector = rng.normal(size=dims).astype(np.float32).round(5).tolist()
        data = RecordIngested(record_id=record_id, external_id=f"r{i}", fields={"text": f"review number {i}"},
                              metadata={"split": "even" if i % 2 == 0 else "odd"}, vectors={"emb": vector}, origin="bench")
        batch.append(new_event("record.ingested", data, dataset=DATASET, workspace=WORKSPACE))
        if len(batch) == 500 or i == count - 1:
            await on_records_ingested(batch, records=records, datasets=datasets, queue=queue, counters=counters)
            batch = []
    elapsed = time.perf_counter() - started
    await redis.aclose()
    await mongo.close()
    return count / elapsed, ids


async def timed_similar(client: httpx.AsyncClient, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    answer = await client.post(f"{API}/{DATASET}/records/similar", json=body)
    answer.raise_for_status()
    assert len(answer.json()["items"]) == body["k"], answer.text[:300]
    return (time.perf_counter() - started) * 1000


async def run(stack: EmbeddedStack, base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as owner:
        answer = await owner.post("/api/v1/auth/login", json={"username": OWNER, "password": OWNER_PASSWORD})
        answer.raise_for_status()
        owner.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        body = {"name": DATASET, "fields": [{"name": "text"}],
                "questions": [{"name": "sentiment", "type": "label", "labels": ["positive", "negative"]}],
                "metadata_properties": [{"name": "split", "type": "terms"}],
                "vectors": [{"name": "emb", "dimensions": args.dims}]}
        (await owner.post(API, json=body)).raise_for_status()
        rate, ids = await load_records(stack, args.records, args.dims)
        print(f"stored {args.records} records with {args.dims}-d vectors through the record.ingested handler: {rate:,.0f} records/s")
        rng = random.Random(9)
        build_ms = await timed_similar(owner, {"vector_field": "emb", "record_id": ids[0], "k": 10})
        print(f"first query (builds the index from MongoDB): {build_ms / 1000:.2f} s")
        plain = [await timed_similar(owner, {"vector_field": "emb", "record_id": rng.choice(ids), "k": 10})
                 for _ in range(args.queries)]
        print(f"top-10 similar to a record, {args.queries} queries: p50 {percentile(plain, .5):.1f} ms, "
              f"p95 {percentile(plain, .95):.1f} ms, max {max(plain):.1f} ms")
        flt = {"metadata": {"split": ["even"]}, "status": "pending"}
        filtered = [await timed_similar(owner, {"vector_field": "emb", "record_id": rng.choice(ids), "k": 10, "filter": flt})
                    for _ in range(max(1, args.queries // 4))]
        print(f"top-10 with a filter (split=even, pending): p50 {percentile(filtered, .5):.1f} ms, "
              f"p95 {percentile(filtered, .95):.1f} ms")
        if percentile(plain, .95) > 100:
            print(f"MISS: similar p95 {percentile(plain, .95):.1f} ms > 100 ms goal")
    return {"records": args.records, "dimensions": args.dims, "index_build_s": round(build_ms / 1000, 2),
            "similar_p50_ms": round(percentile(plain, .5), 2), "similar_p95_ms": round(percentile(plain, .95), 2),
            "similar_filtered_p95_ms": round(percentile(filtered, .95), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as folder:
        stack = EmbeddedStack(Path(folder), StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
        stack.start()
        launcher = ServiceLauncher(stack, extra_env={
            "CLAYSTREAM_ANNOTATE_OWNER_USERNAME": OWNER, "CLAYSTREAM_ANNOTATE_OWNER_PASSWORD": OWNER_PASSWORD,
            "CLAYSTREAM_ANNOTATE_LOG_LEVEL": "WARNING", "CLAYSTREAM_ANNOTATE_LOGIN_RATE_PER_MINUTE": "1000",
        })
        launcher.ports["annotate"] = free_port()
        try:
            launcher.start(("annotate",))
            result = asyncio.run(run(stack, launcher.url("annotate"), args))
        finally:
            launcher.stop(("annotate",))
            stack.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
