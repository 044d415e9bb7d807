"""Backbone benchmark: produce → consume throughput and end-to-end latency through the runner.

Starts its own embedded stack (temporary state folder, free ports), produces N
``record.ingested`` events through :class:`EventProducer` while a
:class:`ConsumerRunner` consumes them with a batch handler doing one Mongo bulk write
(natural-key upserts, so idempotent without a fence; ``--fence`` adds the MongoFence).  End-to-end latency is
``occurred_at`` (set when the event is built, just before publishing) → handled.

    .venv/bin/python bench/backbone.py [--events 50000] [--write upsert|insert] [--fence]

Two phases: a burst of N events published as fast as possible while the runner
consumes (-> ``events_per_s``, end to end: first publish to last handled), then a
steady phase at half that rate (-> ``e2e_p50_ms`` / ``e2e_p95_ms``: latency without
a backlog; the burst's latency, mostly queueing, is printed too).

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

from claystream_common.events import Envelope, RecordIngested, new_event
from claystream_common.idempotency import MongoFence, NoFence
from claystream_common.kafka.consumer import ConsumerRunner, Subscription
from claystream_common.kafka.producer import EventProducer
from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack, StackPorts
from pymongo import AsyncMongoClient, UpdateOne


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class Sink:
    """The batch handler: one Mongo bulk write per batch, end-to-end latency per event."""

    def __init__(self, records: Any, write: str) -> None:
        self.records = records
        self.write = write
        self.handled = 0
        self.latencies_ms: list[float] = []
        self.batch_sizes: list[int] = []
        self.target = 0
        self.reached = asyncio.Event()

    def expect(self, target: int) -> None:
        self.handled, self.target = 0, target
        self.latencies_ms, self.batch_sizes = [], []
        self.reached.clear()

    async def __call__(self, batch: list[Envelope[RecordIngested]]) -> None:
        documents = [
            {"_id": e.data.record_id, "dataset": e.dataset, "fields": e.data.fields, "event_id": str(e.event_id)}
            for e in batch
        ]
        if self.write == "insert":
            await self.records.insert_many(documents, ordered=False)
        elif self.write == "none":
            pass  # the runner's and the broker's ceiling, without MongoDB
        else:
            await self.records.bulk_write(
                [UpdateOne({"_id": d["_id"]}, {"$set": d}, upsert=True) for d in documents], ordered=False
            )
        now = datetime.now(UTC)
        self.latencies_ms.extend((now - e.occurred_at).total_seconds() * 1000 for e in batch)
        self.batch_sizes.append(len(batch))
        self.handled += len(batch)
        if self.handled >= self.target:
            self.reached.set()


def make_events(start: int, count: int, prefix: str) -> list[Envelope[Any]]:
    return [
        new_event(
            "record.ingested",
            RecordIngested(record_id=f"{prefix}{i}", fields={"text": f"review number {i} " * 8}),
            dataset="bench",
        )
        for i in range(start, start + count)
    ]


async def wait_handled(sink: Sink, timeout_s: float) -> bool:
    try:
        await asyncio.wait_for(sink.reached.wait(), timeout=timeout_s)
    except TimeoutError:
        return False
    return True


async def run_bench(stack: EmbeddedStack, args: argparse.Namespace) -> dict[str, Any]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.ports.mongo_url, tz_aware=True)
    db = mongo["bench"]
    sink = Sink(db["records"], args.write)
    producer = EventProducer(stack.ports.kafka_bootstrap, service="bench")
    await producer.start()
    fence = MongoFence(db["processed_events"], "bench") if args.fence else NoFence()
    if isinstance(fence, MongoFence):
        await fence.ensure_indexes()
    runner = ConsumerRunner(
        service="bench",
        bootstrap_servers=stack.ports.kafka_bootstrap,
        group_id="bench",
        subscriptions=[Subscription("record.ingested", batch_handler=sink)],
        producer=producer,
        fence=fence,
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
        rebalance_timeout_ms=6000,
    )
    await runner.start()
    out: dict[str, Any] = {"misses": []}
    try:
        # warm-up: group join, first fetch, Mongo connection
        sink.expect(1)
        await producer.publish_many(make_events(0, 1, "warm"), keys=["warm0"])
        if not await wait_handled(sink, 60):
            raise RuntimeError("the warm-up event was not consumed within 60 s")

        # 1. throughput: N events as fast as the producer goes, consumed concurrently
        sink.expect(args.events)
        started = time.perf_counter()
        for offset in range(0, args.events, args.chunk):
            batch = make_events(offset, min(args.chunk, args.events - offset), "r")
            await producer.publish_many(batch, keys=[e.data.record_id for e in batch])
        out["produce_s"] = time.perf_counter() - started
        if not await wait_handled(sink, max(120.0, args.events / 200)):
            out["misses"].append(f"burst: only {sink.handled}/{args.events} events handled before the timeout")
        out["burst_s"] = time.perf_counter() - started
        out["burst_handled"] = sink.handled
        out["burst_latencies_ms"] = sink.latencies_ms
        out["batch_sizes"] = sink.batch_sizes
        burst_rate = sink.handled / out["burst_s"]

        # 2. latency: a steady rate the pipeline sustains (half the burst throughput), small publishes
        rate = max(50.0, burst_rate * args.paced_fraction)
        tick_s = 0.02
        per_tick = max(1, round(rate * tick_s))
        ticks = max(1, round(args.paced_s / tick_s))
        sink.expect(per_tick * ticks)
        next_tick = time.perf_counter()
        for tick in range(ticks):
            batch = make_events(tick * per_tick, per_tick, "p")
            await producer.publish_many(batch, keys=[e.data.record_id for e in batch])
            next_tick += tick_s
            await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
        if not await wait_handled(sink, 60):
            out["misses"].append(f"paced: only {sink.handled}/{per_tick * ticks} events handled before the timeout")
        out["paced_rate"] = per_tick / tick_s
        out["paced_events"] = per_tick * ticks
        out["paced_latencies_ms"] = sink.latencies_ms
        out["stored"] = await db["records"].count_documents({})
    finally:
        await runner.stop()
        await producer.stop()
        await mongo.close()
    out["stats"] = runner.stats
    out["burst_rate"] = burst_rate
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000, help="events in the throughput burst")
    parser.add_argument("--chunk", type=int, default=1000, help="events per publish_many call in the burst")
    parser.add_argument("--write", choices=("upsert", "insert", "none"), default="upsert",
                        help="the handler's bulk write (none: measure the runner without MongoDB)")
    parser.add_argument("--fence", action="store_true", help="add the MongoFence (two more Mongo calls per batch)")
    parser.add_argument("--paced-s", type=float, default=5.0, help="length of the steady-rate latency phase")
    parser.add_argument("--paced-fraction", type=float, default=0.5, help="steady rate as a fraction of the burst's")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="claystream-bench-") as tmp:
        stack = EmbeddedStack(Path(tmp), StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
        print(f"starting embedded stack in {tmp} ...", flush=True)
        stack.start()
        try:
            result = asyncio.run(run_bench(stack, args))
        finally:
            stack.stop()

    burst = result["burst_latencies_ms"]
    paced = result["paced_latencies_ms"]
    sizes = result["batch_sizes"]
    fence = "MongoFence" if args.fence else "none (natural-key upserts)"
    print(f"setup: 4 partitions, batch handler with one Mongo bulk {args.write} per batch, fence: {fence}")
    print(f"burst: {args.events} events published in {result['produce_s']:.2f} s "
          f"({args.events / result['produce_s']:.0f}/s while consuming)")
    print(f"burst: {result['burst_handled']} handled in {result['burst_s']:.2f} s -> "
          f"{result['burst_rate']:.0f} events/s end to end")
    if sizes:
        print(f"burst: {len(sizes)} handler batches, mean {statistics.mean(sizes):.0f} events, max {max(sizes)}")
    print(f"burst latency (queueing behind the backlog) ms: p50 {percentile(burst, 0.5):.0f}  "
          f"p95 {percentile(burst, 0.95):.0f}")
    p50, p95 = percentile(paced, 0.5), percentile(paced, 0.95)
    print(f"steady {result['paced_rate']:.0f} events/s for {args.paced_s:.0f} s ({result['paced_events']} events) "
          f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  max {max(paced) if paced else float('nan'):.1f}")
    print(f"documents stored: {result['stored']}; runner stats: {result['stats']}")
    for miss in result["misses"]:
        print(f"MISS: {miss}")
    print(json.dumps({"events_per_s": round(result["burst_rate"], 1), "e2e_p50_ms": round(p50, 1),
                      "e2e_p95_ms": round(p95, 1)}))


if __name__ == "__main__":
    main()
