"""Backbone benchmark: produce → consume throughput and end-to-end latency through the runner.

Starts its own embedded stack (temporary state folder, free ports), produces N
``record.ingested`` events through :class:`EventProducer` while a
:class:`ConsumerRunner` (with the MongoFence the services use) consumes them with a
batch handler doing one Mongo bulk write per batch.  End-to-end latency is
``occurred_at`` (set when the event is built, just before publishing) → handled.

    .venv/bin/python bench/backbone.py [--events 50000] [--write upsert|insert] [--no-fence]

Last line: ``{"events_per_s": ..., "e2e_p50_ms": ..., "e2e_p95_ms": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne

from claystream_common.events import Envelope, RecordIngested, new_event
from claystream_common.idempotency import MongoFence, NoFence
from claystream_common.kafka.consumer import ConsumerRunner, Subscription
from claystream_common.kafka.producer import EventProducer
from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack, StackPorts


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def run_bench(stack: EmbeddedStack, *, events: int, chunk: int, write: str, fence: bool) -> dict[str, Any]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.ports.mongo_url, tz_aware=True)
    db = mongo["bench"]
    records = db["records"]
    latencies_ms: list[float] = []
    handled = 0
    done = asyncio.Event()
    batch_sizes: list[int] = []

    async def on_batch(batch: list[Envelope[RecordIngested]]) -> None:
        nonlocal handled
        documents = [
            {"_id": e.data.record_id, "dataset": e.dataset, "fields": e.data.fields, "event_id": str(e.event_id)}
            for e in batch
        ]
        if write == "insert":
            await records.insert_many(documents, ordered=False)
        else:
            await records.bulk_write(
                [UpdateOne({"_id": d["_id"]}, {"$set": d}, upsert=True) for d in documents], ordered=False
            )
        now = datetime.now(UTC)
        latencies_ms.extend((now - e.occurred_at).total_seconds() * 1000 for e in batch)
        batch_sizes.append(len(batch))
        handled += len(batch)
        if handled >= events:
            done.set()

    producer = EventProducer(stack.ports.kafka_bootstrap, service="bench")
    await producer.start()
    fence_impl = MongoFence(db["processed_events"], "bench") if fence else NoFence()
    if isinstance(fence_impl, MongoFence):
        await fence_impl.ensure_indexes()
    runner = ConsumerRunner(
        service="bench",
        bootstrap_servers=stack.ports.kafka_bootstrap,
        group_id="bench",
        subscriptions=[Subscription("record.ingested", batch_handler=on_batch)],
        producer=producer,
        fence=fence_impl,
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
        rebalance_timeout_ms=6000,
    )
    await runner.start()
    # warm up: one event through the whole path (group join, first fetch, Mongo connection)
    warm = new_event("record.ingested", RecordIngested(record_id="warm-up", fields={"text": "warm"}), dataset="bench")
    await producer.publish(warm, key="warm-up")
    deadline = time.monotonic() + 60
    while handled < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if handled < 1:
        raise RuntimeError("warm-up event was not consumed within 60 s")
    handled, latencies_ms[:], batch_sizes[:] = 0, [], []

    started = time.perf_counter()
    for offset in range(0, events, chunk):
        batch = [
            new_event(
                "record.ingested",
                RecordIngested(record_id=f"r{i}", fields={"text": f"review number {i} " * 8}),
                dataset="bench",
            )
            for i in range(offset, min(events, offset + chunk))
        ]
        await producer.publish_many(batch, keys=[e.data.record_id for e in batch])
    produced_s = time.perf_counter() - started
    try:
        await asyncio.wait_for(done.wait(), timeout=max(120.0, events / 200))
    except TimeoutError:
        print(f"MISS: only {handled}/{events} events handled before the timeout")
    consumed_s = time.perf_counter() - started
    await runner.stop()
    await producer.stop()
    stored = await records.count_documents({"_id": {"$ne": "warm-up"}})
    await mongo.close()
    return {
        "events": events,
        "handled": handled,
        "stored": stored,
        "produce_s": produced_s,
        "total_s": consumed_s,
        "latencies_ms": latencies_ms,
        "batch_sizes": batch_sizes,
        "stats": runner.stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--chunk", type=int, default=1000, help="events per publish_many call")
    parser.add_argument("--write", choices=("upsert", "insert"), default="upsert")
    parser.add_argument("--no-fence", action="store_true", help="NoFence instead of the MongoFence services use")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="claystream-bench-") as tmp:
        stack = EmbeddedStack(Path(tmp), StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
        print(f"starting embedded stack in {tmp} ...", flush=True)
        stack.start()
        try:
            result = asyncio.run(
                run_bench(stack, events=args.events, chunk=args.chunk, write=args.write, fence=not args.no_fence)
            )
        finally:
            stack.stop()

    latencies = result["latencies_ms"]
    events_per_s = result["handled"] / result["total_s"] if result["total_s"] else 0.0
    p50, p95 = percentile(latencies, 0.50), percentile(latencies, 0.95)
    sizes = result["batch_sizes"]
    print(f"events: {result['events']} produced in {result['produce_s']:.2f} s "
          f"({result['events'] / result['produce_s']:.0f}/s produce-only)")
    print(f"handled: {result['handled']} in {result['total_s']:.2f} s → {events_per_s:.0f} events/s end to end; "
          f"{result['stored']} documents stored ({args.write}, fence={'off' if args.no_fence else 'MongoFence'})")
    if sizes:
        print(f"handler batches: {len(sizes)}, mean size {statistics.mean(sizes):.0f}, max {max(sizes)}")
    print(f"e2e latency ms: p50 {p50:.1f}  p95 {p95:.1f}  max {max(latencies) if latencies else float('nan'):.1f}")
    print(f"runner stats: {result['stats']}")
    if result["handled"] < result["events"]:
        print(f"MISS: {result['events'] - result['handled']} events not handled")
    print(json.dumps({"events_per_s": round(events_per_s, 1), "e2e_p50_ms": round(p50, 1), "e2e_p95_ms": round(p95, 1)}))


if __name__ == "__main__":
    main()
