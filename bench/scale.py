"""Scaling past one process, on the embedded stack (issue 14).

    .venv/bin/python bench/scale.py                      # full size
    .venv/bin/python bench/scale.py --events 2000 --predict-seconds 5   # a quick check

1. Predict: the trainer trains a champion (hashing embedder by default: the bench measures serving, not
   MiniLM), then predict replicas (the trainer package's predict role) serve it.  Throughput with batches
   of 32 texts from ``--concurrency`` clients against 1 replica, then spread over 2 replicas
   (``predict_1_texts_per_s``, ``predict_2_texts_per_s``, their ratio).
2. Promotion: an admin promotes the previous version through the trainer; ``promotion_visible_s`` is the
   time until every replica answers with it (each hears ``model.promoted`` in its own consumer group).
3. Monitor: ``--models`` models' prediction streams (keyed by model) are produced at a steady rate for
   ``--duration`` seconds.  A single monitor (its own database and consumer group) and a pair of monitors
   (another database, one shared group) consume the same events; one of the pair is killed with SIGKILL
   at 40 % of the stream.  ``monitor_events_lost`` / ``monitor_events_double_counted`` compare the
   pair's counts (window events and traffic counters) with the events sent; ``monitor_takeover_s`` is the
   time from the kill until every model advances again; the pair's windows and alerts are compared with
   the single monitor's (``monitor_matches_single``).

The last line is one JSON object with the figures.  On 2 shared cores two replicas cannot be twice as
fast: the ratio is printed, docs/SCALING.md discusses it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from claystream_common.events import PredictionLogged, RecordIngested, ResponseChanged, new_event
from claystream_common.kafka.producer import EventProducer
from claystream_common.topics import model_partition_key
from claystream_devstack.processes import kill_hard
from claystream_devstack.servers import EmbeddedStack
from claystream_devstack.services import ServiceLauncher
from pymongo import AsyncMongoClient

WS, DS = "bench", "scale"
GOALS = {"monitor_events_lost": ("<=", 0), "monitor_events_double_counted": ("<=", 0),
         "monitor_takeover_s": ("<=", 15), "promotion_visible_s": ("<=", 5)}
WORDS = {"good": "great lovely superb moving brilliant", "bad": "awful boring dreadful clumsy tedious"}
DRIFT_WORDS = ["zeta", "omega", "sigma", "kappa", "lambda"]


def say(message: str) -> None:
    print(f"scale: {message}", flush=True)


async def wait_until(predicate: Any, timeout_s: float, what: str, every_s: float = 0.25) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if await predicate():
            return time.monotonic() - started
        await asyncio.sleep(every_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")


# ---------------------------------------------------------------------------------------------- predict
async def seed_labels(producer: EventProducer, start: int, n: int) -> None:
    records, answers = [], []
    for i in range(start, start + n):
        value = "good" if i % 2 else "bad"
        text = f"{WORDS[value]} {i}"
        records.append(new_event("record.ingested", RecordIngested(record_id=f"r{i}", fields={"text": text}),
                                 dataset=DS, workspace=WS))
        answers.append(new_event("response.submitted", ResponseChanged(
            response_id=f"a{i}", record_id=f"r{i}", user_id="bench", status="submitted", values={"label": value}),
            dataset=DS, workspace=WS))
    await producer.publish_many(records, keys=[e.data.record_id for e in records])
    await producer.publish_many(answers, keys=[e.data.record_id for e in answers])


def client_for(url: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=60, headers={
        "Authorization": f"Bearer {token}", "X-Claystream-Workspace": WS})


async def champion(trainer: httpx.AsyncClient) -> str | None:
    answer = await trainer.get(f"/api/v1/models/{DS}")
    return answer.json().get("champion") if answer.status_code == 200 else None


async def served(client: httpx.AsyncClient) -> str | None:
    answer = await client.post(f"/api/v1/models/{DS}/predict", json={"text": "great lovely", "forward": False})
    return answer.json().get("model_version") if answer.status_code == 200 else None


async def throughput(clients: list[httpx.AsyncClient], *, seconds: float, concurrency: int, batch: int) -> float:
    texts = [f"{WORDS['good' if i % 2 else 'bad']} review number {i}" for i in range(batch)]
    done = 0
    stop_at = time.monotonic() + seconds

    async def worker(n: int) -> None:
        nonlocal done
        client = clients[n % len(clients)]
        while time.monotonic() < stop_at:
            answer = await client.post(f"/api/v1/models/{DS}/predict", json={"texts": texts, "forward": False})
            answer.raise_for_status()
            done += batch

    started = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return done / (time.monotonic() - started)


async def predict_phase(args: argparse.Namespace, launcher: ServiceLauncher, results: dict[str, Any]) -> None:
    mongo = AsyncMongoClient(launcher.stack.ports.mongo_url)
    await mongo["claystream"]["datasets"].insert_one({
        "_id": str(uuid.uuid4()), "workspace": WS, "name": DS, "fields": [{"name": "text"}],
        "questions": [{"name": "label", "type": "label", "labels": ["good", "bad"]}],
        "trainer": {"refresh_every": 8, "finetune_every": 100000}})
    await mongo.close()
    launcher.start(("trainer",))
    token = launcher.dev_secrets()["SERVICE_TOKEN"]
    producer = EventProducer(launcher.stack.ports.kafka_bootstrap, service="bench")
    await producer.start()
    trainer = client_for(launcher.url("trainer"), token)
    try:
        await seed_labels(producer, 0, 40)
        await wait_until(lambda: _is(champion(trainer), "v1"), 180, "champion v1")
        second = launcher.add_replica("predict", 2)
        launcher.start(("predict", second))
        replicas = [client_for(launcher.url(name), token) for name in ("predict", second)]
        for client in replicas:
            await wait_until(lambda c=client: _is(served(c), "v1"), 60, "replicas serving v1")
        say(f"champion v1 served by 2 predict replicas; {args.predict_seconds:.0f}s of load each run")
        await throughput(replicas[:1], seconds=2, concurrency=args.concurrency, batch=32)  # warm-up
        one = await throughput(replicas[:1], seconds=args.predict_seconds, concurrency=args.concurrency, batch=32)
        two = await throughput(replicas, seconds=args.predict_seconds, concurrency=args.concurrency, batch=32)
        results.update(predict_1_texts_per_s=round(one, 1), predict_2_texts_per_s=round(two, 1),
                       predict_replica_ratio=round(two / one, 2) if one else None)
        say(f"predict: 1 replica {one:.0f} texts/s, 2 replicas {two:.0f} texts/s, ratio {two / max(one, 1e-9):.2f}")

        await seed_labels(producer, 40, 16)  # a second champion
        await wait_until(lambda: _is(champion(trainer), "v2"), 180, "champion v2")
        for client in replicas:
            await wait_until(lambda c=client: _is(served(c), "v2"), 30, "replicas serving v2")
        started = time.monotonic()
        (await trainer.post(f"/api/v1/models/{DS}/versions/v1/promote")).raise_for_status()
        for client in replicas:
            await wait_until(lambda c=client: _is(served(c), "v1"), 60, "v1 on every replica", every_s=0.05)
        results["promotion_visible_s"] = round(time.monotonic() - started, 2)
        say(f"promotion of v1 visible on both replicas after {results['promotion_visible_s']}s")
        for client in replicas:
            await client.aclose()
    finally:
        await trainer.aclose()
        await producer.stop()
        launcher.stop(tuple(name for name in launcher.specs if name.startswith(("predict", "trainer"))))


async def _is(value: Any, expected: str) -> bool:
    return await value == expected


# ---------------------------------------------------------------------------------------------- monitor
def prediction_events(args: argparse.Namespace) -> list[Any]:
    rng = random.Random(7)
    per_model = args.events // args.models
    events = []
    for m in range(args.models):
        for i in range(per_model):
            drifted = i >= per_model * 0.6
            label = "good" if rng.random() < (0.85 if drifted else 0.5) else "bad"
            words = DRIFT_WORDS if drifted else WORDS[label].split()
            text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 8) if drifted else rng.randint(8, 20)))
            score = 0.5 + rng.random() * (0.2 if drifted else 0.5)
            events.append(new_event("prediction.logged", PredictionLogged(
                request_id=f"m{m}-{i}", model=f"model-{m}", model_version="v1", text=text, predicted_label=label,
                scores={label: score, "other": 1 - score}), workspace=WS))
    # interleave the models as production traffic would
    return [e for _, e in sorted(enumerate(events), key=lambda pair: (pair[0] % per_model, pair[0] // per_model))]


async def counts(db: Any) -> tuple[dict[str, int], int]:
    seen = {doc["_id"]: int(doc["state"]["events_seen"]) async for doc in db["monitor_checkpoints"].find({})}
    traffic = sum([int(doc.get("count", 0)) async for doc in db["monitor_traffic"].find({})])
    return seen, traffic


async def windows(db: Any) -> list[Any]:
    rows = []
    async for doc in db["monitor_windows"].find({}):
        rows.append((doc["model_key"], doc["kind"], doc["index"], doc["events_seen"],
                     tuple((r["check"], r["breached"], round(float(r["p_value"] or 0), 6)) for r in doc["results"])))
    return sorted(rows)


async def alerts(db: Any) -> list[Any]:
    return sorted([(d["model_key"], d.get("check"), d.get("type") or d.get("status")) async for d in db["monitor_alerts"].find({})])


async def monitor_phase(args: argparse.Namespace, launcher: ServiceLauncher, results: dict[str, Any]) -> None:
    common = {"CLAYSTREAM_MONITOR_EMBEDDER": "none", "CLAYSTREAM_MONITOR_WINDOW_SIZE": "100",
              "CLAYSTREAM_MONITOR_WINDOW_STRIDE": "50", "CLAYSTREAM_MONITOR_REFERENCE_SIZE": "200",
              "CLAYSTREAM_MONITOR_CHECKS": "label_distribution,score_distribution,text_length,oov_share,low_confidence",
              "CLAYSTREAM_MONITOR_KAFKA_SESSION_TIMEOUT_MS": str(args.session_timeout_ms),
              "CLAYSTREAM_MONITOR_KAFKA_HEARTBEAT_INTERVAL_MS": str(max(100, args.session_timeout_ms // 10)),
              "CLAYSTREAM_MONITOR_KAFKA_REBALANCE_TIMEOUT_MS": str(args.session_timeout_ms),
              "CLAYSTREAM_MONITOR_PREDICTION_BATCH_MAX": "200"}
    run = uuid.uuid4().hex[:6]
    solo, pair_db = f"mon-solo-{run}", f"mon-pair-{run}"
    launcher.extra_env.update(common, CLAYSTREAM_MONITOR_MONGO_DB=pair_db,
                              CLAYSTREAM_MONITOR_KAFKA_CONSUMER_GROUP=f"bench-pair-{run}")
    first, second = launcher.add_replica("monitor", 1), launcher.add_replica("monitor", 2)
    single = launcher.add_replica("monitor", 90)  # started once the pair is done: same events, from the topic
    launcher.start((first, second))
    mongo = AsyncMongoClient(launcher.stack.ports.mongo_url)
    producer = EventProducer(launcher.stack.ports.kafka_bootstrap, service="bench")
    await producer.start()
    events = prediction_events(args)
    total = len(events)
    say(f"monitor: {total} predictions of {args.models} models over {args.duration:.0f}s; "
        f"pair {first}+{second}, {second} killed at 40 %")
    try:
        await asyncio.sleep(8)  # both members joined and own partitions
        chunk = max(1, total // int(args.duration * 4))
        killed_at = 0.0
        before_kill: dict[str, int] = {}
        watcher: asyncio.Task[float] | None = None
        advanced: dict[str, float] = {}

        async def all_advanced() -> bool:
            seen, _ = await counts(mongo[pair_db])
            for key, value in before_kill.items():
                if seen.get(key, 0) > value and key not in advanced:
                    advanced[key] = round(time.monotonic() - killed_at, 1)
            return len(seen) >= args.models and len(advanced) == len(before_kill)

        started = time.monotonic()
        for offset in range(0, total, chunk):
            part = events[offset:offset + chunk]
            await producer.publish_many(part, keys=[model_partition_key(WS, e.data.model, e.data.request_id) for e in part])
            if watcher is None and offset >= total * 0.4:
                before_kill, _ = await counts(mongo[pair_db])
                kill_hard(launcher.stack.state_dir, second)
                killed_at = time.monotonic()
                say(f"killed {second} (SIGKILL) after {offset} events sent, {sum(before_kill.values())} counted")
                watcher = asyncio.create_task(wait_until(all_advanced, 120, "every model to advance after the kill"))
            await asyncio.sleep(max(0.0, started + (offset + chunk) / total * args.duration - time.monotonic()))
        assert watcher is not None

        await watcher  # polled while the stream goes on: a takeover shows as the dead replica's models moving
        results["monitor_takeover_s"] = max(advanced.values())
        say(f"seconds after the kill until each model advanced: {sorted(advanced.values())}")

        async def all_counted(db: str) -> bool:
            seen, traffic = await counts(mongo[db])
            return sum(seen.values()) >= total and traffic >= total

        await wait_until(lambda: all_counted(pair_db), 300, "the pair to count every event")
        say(f"the pair counted every event {time.monotonic() - started:.1f}s after the first was sent; "
            f"now a single monitor reads the same events")
        launcher.extra_env.update(CLAYSTREAM_MONITOR_MONGO_DB=solo,
                                  CLAYSTREAM_MONITOR_KAFKA_CONSUMER_GROUP=f"bench-solo-{run}")
        launcher.start((single,))
        await wait_until(lambda: all_counted(solo), 300, "the single monitor to count every event")
        await asyncio.sleep(2)  # anything still in flight would show up as double counting
        seen, traffic = await counts(mongo[pair_db])
        counted = [sum(seen.values()), traffic]
        results["monitor_events_lost"] = max(0, total - min(counted))
        results["monitor_events_double_counted"] = max(0, max(counted) - total)
        solo_windows, pair_windows = await windows(mongo[solo]), await windows(mongo[pair_db])
        solo_alerts, pair_alerts = await alerts(mongo[solo]), await alerts(mongo[pair_db])
        results["monitor_matches_single"] = solo_windows == pair_windows and solo_alerts == pair_alerts
        say(f"pair counted {counted[0]} window events and {counted[1]} traffic events of {total}; "
            f"{len(pair_windows)} windows, {len(pair_alerts)} alerts; same as the single monitor: "
            f"{results['monitor_matches_single']} (single: {len(solo_windows)} windows, {len(solo_alerts)} alerts)")
        say(f"takeover: every model advancing again {results['monitor_takeover_s']}s after the kill "
            f"(session timeout {args.session_timeout_ms / 1000:.0f} s + rebalance + restoring checkpoints)")
    finally:
        await producer.stop()
        await mongo.close()
        launcher.stop((single, first, second))


# ---------------------------------------------------------------------------------------------- main
def goals(results: dict[str, Any]) -> list[str]:
    missed = []
    for key, (op, bound) in GOALS.items():
        value = results.get(key)
        ok = value is not None and (value <= bound if op == "<=" else value >= bound)
        say(f"{key} = {value} (goal {op} {bound}): {'met' if ok else 'MISSED'}")
        if not ok:
            missed.append(key)
    return missed


async def run_phases(args: argparse.Namespace, launcher: ServiceLauncher) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if not args.skip_predict:
        await predict_phase(args, launcher, results)
    if not args.skip_monitor:
        await monitor_phase(args, launcher, results)
    return results


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="claystream-scale-") as state:
        stack = EmbeddedStack(Path(state), free_ports=True)
        stack.start()
        launcher = ServiceLauncher(stack, extra_env={
            "CLAYSTREAM_TRAINER_EMBEDDER": args.embedder, "CLAYSTREAM_TRAINER_DEBOUNCE_S": "0.3",
            "CLAYSTREAM_TRAINER_FINETUNE_ENABLED": "false"})
        try:
            results = asyncio.run(run_phases(args, launcher))
        finally:
            launcher.stop(tuple(launcher.specs))
            stack.stop()
    results["missed"] = goals(results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="monitor: predictions in all")
    parser.add_argument("--models", type=int, default=8, help="monitor: models (spread over the 4 partitions)")
    parser.add_argument("--duration", type=float, default=40.0, help="monitor: seconds over which they are sent")
    parser.add_argument("--session-timeout-ms", type=int, default=6000, help="monitor: Kafka session timeout")
    parser.add_argument("--predict-seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--embedder", default="hashing", choices=("hashing", "sentence-transformers"))
    parser.add_argument("--skip-predict", action="store_true")
    parser.add_argument("--skip-monitor", action="store_true")
    args = parser.parse_args()
    results = run_bench(args)
    print(json.dumps(results))
    sys.exit(0)


if __name__ == "__main__":
    main()
