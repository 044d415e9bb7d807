"""Learning-loop benchmark: the SetFit walkthrough, through the running trainer service.

Starts its own embedded stack and the trainer (uvicorn subprocess, real MiniLM), then:

1. ingests 10,100 IMDb records as ``record.ingested``: the 100 to label (random train reviews, seed 42),
   8,000 other train reviews and 2,000 test reviews (seed 42) — 10,000 pending records; waits until the
   trainer's background embedder has cached them all;
2. submits the 100 true labels as ``response.submitted`` events (annotate's API is not wired in this bench
   yet: the events are the ones annotate's outbox publishes; the dataset document is written as annotate
   would) and times threshold → fresh suggestions on all 10,000 pending records;
3. fast-tier accuracy / macro-F1 = those suggestions on the 2,000 test reviews;
4. predict latency (single, p95 of 40) and throughput (batch of 256) against the champion;
5. a full SetFit fine-tune (POST /train kind=finetune): wall time from its model.trained event, then its
   accuracy on the 2,000 test reviews through predict (model_version = the fine-tuned candidate);
6. label efficiency: offline, on the trainer's own embedding cache and with its own head + margin
   priority, how many labels uncertainty ordering (8 per round, from 10 random) needs to reach the
   accuracy that the 100 random labels give;
7. peak RSS of the trainer process (VmHWM).

    .venv/bin/python bench/learning_loop.py [--pending-train 8000] [--test 2000]

Last line: one JSON object with the figures (misses are printed too).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from aiokafka import AIOKafkaConsumer
from claystream_common.events import RecordIngested, ResponseChanged, decode_event, new_event
from claystream_common.kafka.producer import EventProducer
from claystream_devstack.processes import free_port, read_pid
from claystream_devstack.servers import EmbeddedStack, StackPorts
from claystream_devstack.services import ServiceLauncher
from pymongo import AsyncMongoClient
from sklearn.metrics import accuracy_score, f1_score

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CLAYSTREAM_SHARED_DATA", ROOT.parent / "shared" / "data")) / "imdb"
WS, DS = "bench", "imdb"
GOALS = {"refresh_to_suggestions_s": ("<=", 30), "finetune_s": ("<=", 120), "fast_accuracy": (">=", 0.85),
         "finetune_accuracy": (">=", 0.85), "predict_batch_texts_per_s": (">=", 200),
         "predict_single_p95_ms": ("<=", 30), "labels_to_match_random_100": ("<=", 50)}


def load(name: str) -> list[dict]:
    with gzip.open(DATA / name, "rt") as handle:
        return [json.loads(line) for line in handle]


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Watch:
    """Collects suggestion and model events of the bench dataset."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer("suggestions", "models", bootstrap_servers=bootstrap,
                                         group_id=f"bench-{uuid.uuid4().hex[:8]}", auto_offset_reset="latest")
        self.suggestions: dict[str, dict[str, object]] = {}  # version → record → label
        self.models: list[object] = []
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.consumer.start()
        while not self.consumer.assignment():
            await self.consumer.getmany(timeout_ms=200)
        await self.consumer.seek_to_end()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200, max_records=5000)
            for messages in batches.values():
                for message in messages:
                    event = decode_event(message.value)
                    if event.dataset != DS:
                        continue
                    if event.type == "suggestion.created":
                        self.suggestions.setdefault(event.data.model_version, {})[event.data.record_id] = event.data.label
                    else:
                        self.models.append(event)

    def of(self, event_type: str, **match: object) -> list:
        return [e for e in self.models if e.type == event_type
                and all(getattr(e.data, k) == v for k, v in match.items())]

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        await self.consumer.stop()


async def wait(predicate, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def label_efficiency(cache_dir: Path, labelled: list[str], pool: list[str], test: list[str],
                     truth: dict[str, str]) -> tuple[float, int | None, list[tuple[int, float]]]:
    from claystream_trainer.adapters.file_embedding_cache import FileEmbeddingCache
    from claystream_trainer.domain.evaluation import fit_head
    from claystream_trainer.domain.ports import DatasetKey
    from claystream_trainer.domain.uncertainty import margin_priority

    cache = FileEmbeddingCache(cache_dir)
    key = DatasetKey(WS, DS)
    body = next(p.name for p in (cache_dir / "cache" / WS / DS).iterdir() if p.name.startswith("base-"))
    vectors = cache.get_many(key, body, labelled + pool + test)
    x_test = np.stack([vectors[r] for r in test])
    y_test = [truth[r] for r in test]

    def accuracy(ids: list[str]) -> float:
        head = fit_head(np.stack([vectors[r] for r in ids]), [truth[r] for r in ids])
        return float(accuracy_score(y_test, head.predict(x_test)))

    # "the accuracy 100 random labels give": the bench's seed-42 draw is one sample (±2-3 points on a few
    # hundred test reviews), so the target is the mean over that draw and four more (seeds 43-46)
    draws = [accuracy(labelled)] + [accuracy(random.Random(seed).sample(labelled + pool, 100)) for seed in range(43, 47)]
    target = float(np.mean(draws))
    say(f"100 random labels: seed 42 → {draws[0]:.4f}; seeds 42-46 → {[round(d, 4) for d in draws]}, mean {target:.4f}")
    rng = random.Random(42)
    chosen = rng.sample(pool, 10)
    while len({truth[r] for r in chosen}) < 2:
        chosen = rng.sample(pool, 10)
    remaining = [r for r in pool if r not in set(chosen)]
    x_pool = np.stack([vectors[r] for r in remaining])
    curve: list[tuple[int, float]] = []
    reached = None
    while len(chosen) <= 200 and remaining:
        acc = accuracy(chosen)
        curve.append((len(chosen), acc))
        if acc >= target and reached is None:
            reached = len(chosen)
            break
        head = fit_head(np.stack([vectors[r] for r in chosen]), [truth[r] for r in chosen])
        priority = margin_priority(head.predict_proba(x_pool))
        top = np.argsort(-priority)[:8]
        chosen += [remaining[i] for i in top]
        keep = np.ones(len(remaining), dtype=bool)
        keep[top] = False
        remaining = [r for r, k in zip(remaining, keep, strict=True) if k]
        x_pool = x_pool[keep]
    return target, reached, curve


async def run(args: argparse.Namespace, stack: EmbeddedStack, launcher: ServiceLauncher, token: str,
              state: Path) -> dict[str, object]:
    results: dict[str, object] = {k: None for k in ("refresh_to_suggestions_s", "fast_accuracy", "fast_macro_f1",
                                                      "finetune_s", "finetune_accuracy", "finetune_macro_f1",
                                                      "predict_single_p95_ms", "predict_batch_texts_per_s",
                                                      "peak_rss_mb", "labels_to_match_random_100")}
    train, test_rows = load("train.jsonl.gz"), load("test.jsonl.gz")
    rng = random.Random(42)
    labelled = rng.sample(train, 100)
    chosen = {r["id"] for r in labelled}
    others = random.Random(43).sample([r for r in train if r["id"] not in chosen], args.pending_train)
    tests = random.Random(42).sample(test_rows, args.test)
    rows = [("l", r) for r in labelled] + [("p", r) for r in others] + [("t", r) for r in tests]
    rid = {f"{kind}-{r['id']}": r for kind, r in rows}
    truth = {k: r["label"] for k, r in rid.items()}
    labelled_ids = [f"l-{r['id']}" for r in labelled]
    pool_ids = [f"p-{r['id']}" for r in others]
    test_ids = [f"t-{r['id']}" for r in tests]
    say(f"{len(labelled_ids)} to label, {len(pool_ids) + len(test_ids)} pending ({len(test_ids)} of them IMDb test)")

    producer = EventProducer(stack.ports.kafka_bootstrap, service="bench")
    mongo = AsyncMongoClient(stack.ports.mongo_url)
    watch = Watch(stack.ports.kafka_bootstrap)
    try:
        await mongo["claystream"]["datasets"].insert_one({  # what annotate writes when a dataset is created
            "_id": str(uuid.uuid4()), "workspace": WS, "name": DS, "fields": [{"name": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "labels": ["negative", "positive"]}],
            "trainer": {"refresh_every": 8, "min_per_label": 2, "finetune_every": 100_000},
        })
        await asyncio.to_thread(launcher.start, ("trainer",), timeout_s=180)
        url = launcher.url("trainer")
        client = httpx.AsyncClient(base_url=url, timeout=300,
                                   headers={"Authorization": f"Bearer {token}", "X-Claystream-Workspace": WS})
        await producer.start()
        await watch.start()

        started = time.perf_counter()
        events = [new_event("record.ingested", RecordIngested(record_id=k, fields={"text": r["text"]}),
                            dataset=DS, workspace=WS) for k, r in rid.items()]
        for i in range(0, len(events), 1000):
            chunk = events[i:i + 1000]
            await producer.publish_many(chunk, keys=[e.data.record_id for e in chunk])

        async def embedded():
            status = (await client.get(f"/api/v1/models/{DS}/status")).json()
            return status["embedded_records"] >= len(events)

        await wait(embedded, 3600, "the embedding cache")
        cache_s = time.perf_counter() - started
        say(f"background embedding cache filled: {len(events)} records in {cache_s:.1f}s "
            f"({len(events) / cache_s:.1f} records/s)")

        labels = [new_event("response.submitted", ResponseChanged(
            response_id=f"resp-{k}", record_id=k, user_id="bench", status="submitted",
            values={"sentiment": truth[k]}), dataset=DS, workspace=WS) for k in labelled_ids]
        threshold_at = time.perf_counter()
        await producer.publish_many(labels, keys=[e.data.record_id for e in labels])
        pending = set(pool_ids) | set(test_ids)

        async def fresh():
            for version, suggested in watch.suggestions.items():
                if pending <= set(suggested):
                    return version
            return None

        version = await wait(fresh, 600, "fresh suggestions on every pending record")
        results["refresh_to_suggestions_s"] = round(time.perf_counter() - threshold_at, 2)
        suggested = watch.suggestions[version]
        y_true = [truth[k] for k in test_ids]
        y_fast = [suggested[k] for k in test_ids]
        results["fast_accuracy"] = round(accuracy_score(y_true, y_fast), 4)
        results["fast_macro_f1"] = round(f1_score(y_true, y_fast, average="macro"), 4)
        say(f"threshold → suggestions for {len(pending)} pending: {results['refresh_to_suggestions_s']}s "
            f"(model {version}); fast tier on {len(test_ids)} test reviews: acc {results['fast_accuracy']}, "
            f"macro-F1 {results['fast_macro_f1']}")

        texts = [rid[k]["text"] for k in test_ids]
        await client.post(f"/api/v1/models/{DS}/predict", json={"text": texts[0]})  # warm-up
        singles = []
        for text in texts[1:41]:
            began = time.perf_counter()
            answer = await client.post(f"/api/v1/models/{DS}/predict", json={"text": text})
            singles.append((time.perf_counter() - began) * 1000)
            answer.raise_for_status()
        results["predict_single_p95_ms"] = round(float(np.percentile(singles, 95)), 1)
        began = time.perf_counter()
        (await client.post(f"/api/v1/models/{DS}/predict", json={"texts": [texts[i % len(texts)] for i in range(41, 297)]})).raise_for_status()
        results["predict_batch_texts_per_s"] = round(256 / (time.perf_counter() - began), 1)
        say(f"predict: single p50 {statistics.median(singles):.1f} ms, p95 {results['predict_single_p95_ms']} ms; "
            f"batch of 256: {results['predict_batch_texts_per_s']} texts/s")

        target, reached, curve = label_efficiency(state / "models", labelled_ids, pool_ids, test_ids, truth)
        results["labels_to_match_random_100"] = reached
        say(f"label efficiency: target (mean of 5 random-100 draws) {target:.4f}; uncertainty ordering reached it at "
            f"{reached} labels; curve {[(n, round(a, 3)) for n, a in curve]}")

        (await client.post(f"/api/v1/models/{DS}/train", json={"kind": "finetune"})).raise_for_status()

        async def finetuned():
            return watch.of("model.trained", kind="finetune") or watch.of("training.failed", kind="finetune")

        done = (await wait(finetuned, 1800, "the fine-tune"))[0]
        if done.type == "training.failed":
            raise RuntimeError(f"fine-tune failed: {done.data.error}")
        progress = watch.of("training.progress")
        results["finetune_s"] = round(done.data.duration_s, 1)
        ft_version = done.data.model_version
        say(f"fine-tune {ft_version}: {results['finetune_s']}s, {len(progress)} progress events, "
            f"held-out metrics {done.data.metrics}")
        predicted: list[str] = []
        for i in range(0, len(texts), 256):
            answer = await client.post(f"/api/v1/models/{DS}/predict",
                                       json={"texts": texts[i:i + 256], "model_version": ft_version})
            answer.raise_for_status()
            predicted += [p["label"] for p in answer.json()["predictions"]]
        results["finetune_accuracy"] = round(accuracy_score(y_true, predicted), 4)
        results["finetune_macro_f1"] = round(f1_score(y_true, predicted, average="macro"), 4)
        champion = (await client.get(f"/api/v1/models/{DS}")).json()["champion"]
        say(f"fine-tuned {ft_version} on {len(test_ids)} test reviews: acc {results['finetune_accuracy']}, "
            f"macro-F1 {results['finetune_macro_f1']}; champion now {champion}")
        pid = read_pid(state, "trainer")
        if pid is not None:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    results["peak_rss_mb"] = round(int(line.split()[1]) / 1024, 1)
        await client.aclose()
    finally:
        await watch.stop()
        await producer.stop()
        await mongo.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pending-train", type=int, default=8000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--max-steps", type=int, default=int(os.environ.get("BENCH_FINETUNE_MAX_STEPS", "40")))
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="cs-learning-loop-"))
    stack = EmbeddedStack(state, StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
    stack.start()
    token = "bench-service-token-0123456789abcdef"
    launcher = ServiceLauncher(stack, extra_env={"CLAYSTREAM_TRAINER_SERVICE_TOKEN": token,
                                                 "CLAYSTREAM_TRAINER_LOG_JSON": "false",
                                                 "CLAYSTREAM_TRAINER_FINETUNE_MAX_STEPS": str(args.max_steps)})
    try:
        results = asyncio.run(run(args, stack, launcher, token, state))
    finally:
        launcher.stop(("trainer",))
        stack.stop()
    for name, (op, goal) in GOALS.items():
        value = results.get(name)
        ok = value is not None and (value <= goal if op == "<=" else value >= goal)
        print(f"{name}: {value} (goal {op} {goal}) {'OK' if ok else 'MISS'}", flush=True)
    print(f"peak_rss_mb: {results['peak_rss_mb']}", flush=True)
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
