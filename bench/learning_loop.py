"""Learning-loop benchmark: the SetFit walkthrough, through annotate's and the trainer's HTTP APIs.

Starts its own embedded stack (Kafka, MongoDB, Redis in a temporary state folder) and ingest, annotate
and the trainer (uvicorn subprocesses on free ports; the trainer with the real MiniLM), then:

1. as the demo does: an annotator (annotate CLI), an SDK API key, the dataset ``imdb`` (question
   ``sentiment``: positive / negative; trainer settings refresh_every 8, min_per_label 2, no automatic
   fine-tune) through annotate's API;
2. imports 10,100 IMDb reviews through ingest with the SDK: the 100 to label (random train reviews,
   seed 42), 8,000 other train reviews (seed 43) and 2,000 test reviews (seed 42) — 10,000 pending;
   waits until annotate stored them all and the trainer's background embedder cached them all;
3. an annotator logs in and submits the 100 true labels through annotate's API (PUT the response);
   the trainer refreshes on its own schedule (every 8 new labels, once no label came for its debounce,
   2 s: labels submitted back to back give one refresh on all 100).  Threshold → fresh suggestions:
   from the return of the 100th submit until a model trained on all 100 labels has published
   suggestions for every pending record (if the trainer is not due for a refresh on the last
   < refresh_every labels, the bench asks for one with POST /train and says so; the time counts);
4. fast-tier accuracy / macro-F1 = those suggestions on the 2,000 test reviews;
5. once annotate stored the suggestions and the stack went quiet (under 15 % of a core for 1 s: the work
   the burst queued is not timed with predict), predict latency (single, p95 of 40) and throughput (batch
   of 256) against the champion, and the embedding head's throughput (16 batches of 32 after one to
   warm up);
6. label efficiency: ``claystream_trainer.domain.label_efficiency.labels_to_match`` on the trainer's
   own embedding cache (base body), the 100 labelled + 8,000 train records as the pool, the bench's
   draw as the first of the random draws: how many labels the loop's uncertainty ordering needs to
   reach the mean accuracy of 100 random labels;
7. a full SetFit fine-tune (POST /train kind=finetune): wall time from its model.trained event, then
   (a) the fine-tuned body's own head on the test reviews (predict with its version, component
   "embedding") and (b), once the trainer has re-embedded every record with the promoted body and a
   refresh has trained a new pool student with it as the teacher, the champion on the test reviews
   (the figure reported; (a) when the fine-tune was not promoted or (b) timed out);
8. peak RSS of the trainer process (VmHWM).

    .venv/bin/python bench/learning_loop.py [--pending-train 8000] [--test 2000] [--max-steps 30]

Last line: one JSON object with the figures (misses are printed too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _learning_loop_parts import (
    DS,
    QUESTION,
    SERVICES,
    TRAINER,
    WS,
    Watch,
    model_list,
    peak_rss_mb,
    predict_all,
    replay,
    say,
    scores,
    select,
    set_up,
    start_services,
    trainer_client,
    wait,
    wait_quiet,
)
from claystream_devstack.demo_api import AnnotatorSession, DemoApi, ServiceUrls
from claystream_devstack.demo_setup import import_records
from claystream_devstack.services import ServiceLauncher
from claystream_trainer.domain.evaluation import better

GOALS = {"refresh_to_suggestions_s": ("<=", 30), "finetune_s": ("<=", 120), "fast_accuracy": (">=", 0.85),
         "finetune_accuracy": (">=", 0.85), "predict_batch_texts_per_s": (">=", 200),
         "predict_embedding_texts_per_s": (">=", 200), "predict_single_p95_ms": ("<=", 30),
         "predict_embedding_single_p95_ms": ("<=", 30), "labels_to_match_random_100": ("<=", 50)}
KEYS = ("refresh_to_suggestions_s", "fast_accuracy", "fast_macro_f1", "finetune_s", "finetune_accuracy",
        "finetune_macro_f1", "predict_single_p95_ms", "predict_batch_texts_per_s", "predict_embedding_texts_per_s",
        "predict_embedding_single_p95_ms", "peak_rss_mb",
        "labels_to_match_random_100", "finetune_body_accuracy", "finetune_to_student_s")


async def run(args: argparse.Namespace, launcher: ServiceLauncher, state: Path) -> dict[str, Any]:
    results: dict[str, Any] = dict.fromkeys(KEYS)
    sel = await asyncio.to_thread(select, args.pending_train, args.test)
    labelled, train_ids, test_ids = sel.ids(sel.labelled), sel.ids(sel.pending_train), sel.ids(sel.test)
    pending, total = set(train_ids) | set(test_ids), len(sel.texts)
    say(f"{len(labelled)} to label, {len(pending)} pending ({len(test_ids)} of them IMDb test)")
    urls = ServiceUrls(annotate=launcher.url("annotate"), ingest=launcher.url("ingest"),
                       trainer=launcher.url("trainer"))
    api = DemoApi(urls, service_token=launcher.dev_secrets()["SERVICE_TOKEN"], workspace=WS, dataset=DS)
    client = trainer_client(launcher)
    session = AnnotatorSession(urls.annotate, api.workspace, api.dataset)
    watch = Watch(launcher.stack.ports.kafka_bootstrap)
    try:
        credentials, sdk = await asyncio.to_thread(set_up, launcher, api)
        await watch.start()
        started = time.perf_counter()
        accepted = await asyncio.to_thread(import_records, sdk, sel.labelled + sel.pending_train, dataset=api.dataset,
                                           source="imdb_train")
        accepted += await asyncio.to_thread(import_records, sdk, sel.test, dataset=api.dataset, source="imdb_test")
        say(f"imported {accepted} records through ingest (SDK) in {time.perf_counter() - started:.1f}s")

        async def stored() -> bool:
            return await asyncio.to_thread(api.record_total) >= total

        async def status() -> dict[str, Any]:
            return dict((await client.get("/status")).json())

        async def embedded() -> bool:
            return int((await status())["embedded_records"]) >= total

        async def stored_count() -> str:
            return f"{await asyncio.to_thread(api.record_total)}/{total} stored"

        async def embedded_count() -> str:
            return f"{(await status())['embedded_records']}/{total} embedded"

        await wait(stored, 1800, "annotate to store every record", every_s=1, progress=stored_count, progress_s=30)
        say(f"annotate stored {total} records {time.perf_counter() - started:.1f}s after the import began")
        await wait(embedded, 7200, "the embedding cache", every_s=1, progress=embedded_count, progress_s=60)
        cache_s = time.perf_counter() - started
        say(f"background embedding cache filled: {total} records in {cache_s:.1f}s after the import began "
            f"({total / cache_s:.1f} records/s)")

        await asyncio.to_thread(session.login, credentials.annotator_username, credentials.annotator_password)
        began = time.perf_counter()
        for record_id in labelled:
            await asyncio.to_thread(session.submit, record_id, {QUESTION: sel.truth[record_id]})
        threshold_at = time.perf_counter()
        during = [(e.data.model_version, e.data.label_count) for e in watch.of("model.trained")]
        say(f"{len(labelled)} labels submitted through annotate's API in {threshold_at - began:.1f}s "
            f"(annotator {credentials.annotator_username}); models trained meanwhile: {during or 'none yet'}")

        version = await fresh_suggestions(args, client, watch, pending, len(labelled), threshold_at)
        results["refresh_to_suggestions_s"] = round(time.perf_counter() - threshold_at, 2)
        suggested = watch.suggestions[version]
        y_true = [sel.truth[k] for k in test_ids]
        results["fast_accuracy"], results["fast_macro_f1"] = scores(y_true, [suggested[k] for k in test_ids])
        trained = next(e.data for e in watch.of("model.trained", model_version=version))
        say(f"threshold → suggestions for {len(pending)} pending: {results['refresh_to_suggestions_s']}s (model "
            f"{version}, {trained.label_count} labels, CV {trained.metrics}); fast tier on {len(test_ids)} test "
            f"reviews: acc {results['fast_accuracy']}, macro-F1 {results['fast_macro_f1']}")

        async def suggestions_stored() -> bool:
            counts = [await asyncio.to_thread(api.record_total, suggested=label, question=QUESTION)
                      for label in sorted(set(sel.truth.values()))]
            return sum(counts) >= len(pending)

        # predict is measured on a quiet stack, not while annotate still stores the suggestion burst
        await wait(suggestions_stored, 300, "annotate to store the suggestions", every_s=0.5)
        say(f"annotate stored the suggestions {time.perf_counter() - threshold_at:.1f}s after the threshold")
        waited, busy = await wait_quiet(state)
        say(f"the stack went quiet ({busy:.0%} of a core over 1 s) {waited:.1f}s later; predict is measured now")
        texts = [sel.texts[k] for k in test_ids]
        await predict_latency(client, texts, results)

        rep = await asyncio.to_thread(replay, state, sel, labelled + train_ids, test_ids, labelled)
        results["labels_to_match_random_100"] = rep.reached
        say(f"label efficiency: 100 random labels → {[round(d, 4) for d in rep.draws]} (the first is the bench's "
            f"draw), target = mean {rep.target:.4f}; uncertainty ordering reached it at {rep.reached} labels; "
            f"curve {[(n, round(a, 3)) for n, a in rep.curve]}")

        try:
            await finetune(args, client, watch, texts, y_true, results)
        except Exception as error:  # noqa: BLE001 - the figures measured so far are still printed
            say(f"fine-tune part stopped: {type(error).__name__}: {error}")
        results["peak_rss_mb"] = peak_rss_mb(state)
    finally:
        await watch.stop()
        await client.aclose()
        session.close()
        api.close()
    return results


async def fresh_suggestions(args: argparse.Namespace, client: Any, watch: Watch, pending: set[str], labels: int,
                            threshold_at: float) -> str:
    """The first model on ``labels`` labels whose suggestions cover every pending record; asks for a refresh
    (POST /train) when the trainer has counted every label but is not due for one."""
    last_ask = [threshold_at]

    async def fresh() -> str | None:
        versions = [e.data.model_version for e in watch.of("model.trained") if e.data.label_count >= labels]
        for version in versions:
            if pending <= watch.suggestions.get(version, {}).keys():
                return str(version)
        if not versions and time.perf_counter() - last_ask[0] >= args.nudge_s:
            last_ask[0] = time.perf_counter()
            status = (await client.get("/status")).json()
            due = int(status["new_since_refresh"])
            if sum(status["labels_per_class"].values()) >= labels and 0 < due < TRAINER["refresh_every"]:
                (await client.post("/train", json={"kind": "refresh"})).raise_for_status()
                say(f"  no refresh due for the last {due} labels (< refresh_every {TRAINER['refresh_every']}) "
                    f"{time.perf_counter() - threshold_at:.1f}s after the threshold: asked for one (POST /train)")
        return None

    async def seen() -> str:
        return (f"models {[(e.data.model_version, e.data.label_count) for e in watch.of('model.trained')]}, "
                f"suggestions per version {({v: len(s) for v, s in watch.suggestions.items()})}")

    return str(await wait(fresh, 1800, "fresh suggestions on every pending record", progress=seen, progress_s=30))


async def single_latencies_ms(client: Any, texts: list[str], components: set[str], **extra: Any) -> list[float]:
    """One POST /predict per text (``extra``: more body fields); adds the components that answered."""
    singles: list[float] = []
    for text in texts:
        began = time.perf_counter()
        answer = await client.post("/predict", json={"text": text, **extra})
        singles.append((time.perf_counter() - began) * 1000)
        answer.raise_for_status()
        components.add(answer.json()["component"])
    return singles


async def predict_latency(client: Any, texts: list[str], results: dict[str, Any]) -> None:
    warm = (await client.post("/predict", json={"text": texts[0]})).json()
    components = {warm["component"]}
    singles = await single_latencies_ms(client, texts[1:41], components)
    results["predict_single_p95_ms"] = round(float(np.percentile(singles, 95)), 1)
    began = time.perf_counter()
    answer = await client.post("/predict", json={"texts": [texts[i % len(texts)] for i in range(41, 297)]})
    answer.raise_for_status()
    results["predict_batch_texts_per_s"] = round(256 / (time.perf_counter() - began), 1)
    say(f"predict ({warm['model_version']}, component {sorted(components)} single, {answer.json()['component']} "
        f"batch): single p50 {statistics.median(singles):.1f} ms, p95 {results['predict_single_p95_ms']} ms; "
        f"batch of 256: {results['predict_batch_texts_per_s']} texts/s")
    # the embedding head serving (the body's forward pass included), batches of 32: one to warm up, then 16
    batches = [[texts[(297 + 32 * b + i) % len(texts)] for i in range(32)] for b in range(17)]
    (await client.post("/predict", json={"texts": batches.pop(), "component": "embedding"})).raise_for_status()
    began = time.perf_counter()
    for batch in batches:
        answer = await client.post("/predict", json={"texts": batch, "component": "embedding"})
        answer.raise_for_status()
    results["predict_embedding_texts_per_s"] = round(32 * len(batches) / (time.perf_counter() - began), 1)
    singles = await single_latencies_ms(client, texts[1:41], set(), component="embedding")
    results["predict_embedding_single_p95_ms"] = round(float(np.percentile(singles, 95)), 1)
    say(f"predict, embedding head: batches of 32 {results['predict_embedding_texts_per_s']} texts/s; single p50 "
        f"{statistics.median(singles):.1f} ms, p95 {results['predict_embedding_single_p95_ms']} ms")


async def finetune(args: argparse.Namespace, client: Any, watch: Watch, texts: list[str], y_true: list[str],
                   results: dict[str, Any]) -> None:
    (await client.post("/train", json={"kind": "finetune"})).raise_for_status()

    async def finished() -> list[Any]:
        return watch.of("model.trained", kind="finetune") or watch.of("training.failed", kind="finetune")

    async def steps() -> str:
        progress = watch.of("training.progress", kind="finetune")
        return f"step {progress[-1].data.step}/{progress[-1].data.total_steps}" if progress else "no progress event yet"

    try:
        done = (await wait(finished, args.finetune_wait, "the fine-tune", every_s=1, progress=steps))[0]
    except TimeoutError as error:
        say(f"fine-tune: {error}")
        return
    if done.type == "training.failed":
        say(f"fine-tune FAILED: {done.data.error}")
        return
    ft_version, ended = done.data.model_version, watch.arrived("model.trained", kind="finetune") or time.perf_counter()
    results["finetune_s"] = round(done.data.duration_s, 1)
    say(f"fine-tune {ft_version}: {results['finetune_s']}s, {len(watch.of('training.progress', kind='finetune'))} "
        f"progress events, held-out metrics {done.data.metrics}")
    predicted, _, components = await predict_all(client, texts, model_version=ft_version, component="embedding")
    results["finetune_body_accuracy"], body_f1 = scores(y_true, predicted)
    say(f"(a) fine-tuned body's own head ({ft_version}, component {sorted(components)}) on {len(texts)} test "
        f"reviews: acc {results['finetune_body_accuracy']}, macro-F1 {body_f1}")
    entry = (await client.get(f"/versions/{ft_version}")).json()
    same_split = entry["metrics"].get("champion_on_same_split")
    if not better(entry["metrics"], same_split, strict=True):  # the trainer's own promotion rule
        say(f"(b) unavailable: {ft_version} is not promoted (held-out macro-F1/acc {entry['metrics'].get('macro_f1')}/"
            f"{entry['metrics'].get('accuracy')} vs the champion's {same_split} on the same split), so nothing "
            f"is re-embedded; finetune_accuracy falls back to (a)")
        results["finetune_accuracy"], results["finetune_macro_f1"] = results["finetune_body_accuracy"], body_f1
        return

    async def student() -> dict[str, Any] | None:
        listing = await model_list(client)
        champion = next((m for m in listing["items"] if m["version"] == listing["champion"]), None)
        return champion if champion and champion["kind"] == "refresh" and champion["body_ref"] == ft_version else None

    async def where() -> str:
        listing, status = await model_list(client), (await client.get("/status")).json()
        return (f"{time.perf_counter() - ended:.0f}s after the fine-tune: champion {listing['champion']}, "
                f"{status['embedded_records']} embeddings done in total")

    try:
        champion = await wait(student, args.student_wait, f"a refresh champion on body {ft_version}", every_s=2,
                              progress=where)
    except TimeoutError as error:
        say(f"(b) {error}; finetune_accuracy falls back to (a)")
        results["finetune_accuracy"], results["finetune_macro_f1"] = results["finetune_body_accuracy"], body_f1
        return
    promoted = watch.arrived("model.promoted", model_version=champion["version"]) or time.perf_counter()
    results["finetune_to_student_s"] = round(promoted - ended, 1)

    async def serving() -> bool:
        answer = (await client.post("/predict", json={"text": texts[0]})).json()
        return bool(answer["model_version"] == champion["version"])

    await wait(serving, 60, f"predict to serve {champion['version']}", every_s=1)
    predicted, versions, components = await predict_all(client, texts)
    results["finetune_accuracy"], results["finetune_macro_f1"] = scores(y_true, predicted)
    say(f"(b) champion {sorted(versions)} (refresh on body {ft_version}, component {sorted(components)}, "
        f"{results['finetune_to_student_s']}s after the fine-tune) on {len(texts)} test reviews: acc "
        f"{results['finetune_accuracy']}, macro-F1 {results['finetune_macro_f1']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--pending-train", type=int, default=8000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--max-steps", type=int, default=int(os.environ.get("BENCH_FINETUNE_MAX_STEPS", "30")))
    parser.add_argument("--nudge-s", type=float, default=15.0,
                        help="after the threshold, ask for a refresh when none is due for this long")
    parser.add_argument("--finetune-wait", type=float, default=3600.0, help="seconds to wait for the fine-tune")
    parser.add_argument("--student-wait", type=float, default=1800.0,
                        help="seconds to wait for the re-embedding and the refresh on the fine-tuned body")
    parser.add_argument("--keep-state", action="store_true", help="keep the temporary state folder")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="cs-learning-loop-"))
    say(f"state folder {state}")
    stack, launcher = start_services(state, args.max_steps)
    finished = False
    try:
        results = asyncio.run(run(args, launcher, state))
        finished = True
    finally:
        launcher.stop(SERVICES)
        stack.stop()
        if finished and not args.keep_state:
            shutil.rmtree(state, ignore_errors=True)
        else:
            say(f"state folder kept: {state} (service logs under logs/)")
    for name, (op, goal) in GOALS.items():
        value = results.get(name)
        ok = value is not None and (value <= goal if op == "<=" else value >= goal)
        print(f"{name}: {value} (goal {op} {goal}) {'OK' if ok else 'MISS'}", flush=True)
    for name in ("fast_macro_f1", "finetune_macro_f1", "finetune_body_accuracy", "finetune_to_student_s",
                 "peak_rss_mb"):
        print(f"{name}: {results[name]}", flush=True)
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
