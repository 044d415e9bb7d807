"""Multi-label benchmark: movie genres from plot overviews (tmdb_genres) through annotate's and the trainer's APIs.

Starts its own embedded stack (Kafka, MongoDB, Redis in a temporary state folder) and ingest, annotate and
the trainer (uvicorn subprocesses on free ports; the trainer with the real MiniLM), then:

1. as the demo does: an annotator (annotate CLI), an SDK API key, and the dataset ``tmdb_genres`` (the demo's:
   fields title + text, one multi-label question ``genres`` over the 19 TMDB genres; trainer settings
   refresh_every 8, min_per_label 2, no fine-tune) through annotate's API;
2. imports every train overview (2,399) and the 600 test overviews through ingest with the SDK, all pending;
   waits until annotate stored them and the trainer's background embedder cached them;
3. the annotator submits the true genres of 200 train overviews (random, seed 42) through annotate's API.
   ``refresh_to_suggestions_s``: from the return of the 200th submit until a model trained on all 200 answers
   has published suggestions for every pending record (if no refresh is due for the last < refresh_every
   answers, the bench asks for one with POST /train and says so; the time counts);
4. ``micro_f1`` / ``macro_f1`` (over the genres present in the test overviews) / ``samples_f1``: those
   suggestions on the 600 test overviews;
5. the baseline: sklearn's ``OneVsRestClassifier(LogisticRegression())`` (default C, threshold 0.5) on the
   same frozen embeddings (the trainer's own cache of the base MiniLM) of the same 200 answers, scored on the
   same 600 overviews: ``baseline_ovr_micro_f1`` (and its macro / samples F1).
6. with ``--finetune``: a SetFit fine-tune of the body on the label sets (POST /train kind=finetune,
   ``--max-steps``): its wall time (model.trained), whether it was promoted, and its one-vs-rest head on the
   test overviews (predict with its version): ``finetune_micro_f1`` / ``finetune_macro_f1``;

    .venv/bin/python bench/multilabel.py [--train 2399] [--test 600] [--labels 200] [--finetune --max-steps 30]

Goals: refresh_to_suggestions_s ≤ 30 on 2 cores; micro_f1 ≥ baseline_ovr_micro_f1.  Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _learning_loop_parts import Watch, model_list, say, start_services, trainer_client, wait
from claystream_common.datasets import record_id_for
from claystream_devstack import demo_genres
from claystream_devstack.demo_api import AnnotatorSession, DemoApi, ServiceUrls
from claystream_devstack.services import SERVICE_BY_NAME, ServiceLauncher

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CLAYSTREAM_SHARED_DATA", ROOT.parent / "shared" / "data")) / "tmdb_genres"
WS, DS, QUESTION = "bench", demo_genres.DATASET, "genres"
TRAINER = {"refresh_every": 8, "min_per_label": 2, "finetune_every": 100_000}
KEYS = ("micro_f1", "macro_f1", "samples_f1", "refresh_to_suggestions_s", "baseline_ovr_micro_f1",
        "baseline_ovr_macro_f1", "baseline_ovr_samples_f1", "hamming_loss", "cv_micro_f1", "labels", "pending",
        "test", "finetune_s", "finetune_micro_f1", "finetune_macro_f1", "finetune_promoted")


def load(name: str) -> list[dict[str, Any]]:
    with gzip.open(DATA / name, "rt") as handle:
        return [json.loads(line) for line in handle]


def rid(row: dict[str, Any]) -> str:
    return record_id_for(WS, DS, str(row["id"]))


def f1s(truth: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    from claystream_trainer.domain.multilabel import multilabel_metrics

    metrics = multilabel_metrics(truth, predicted, demo_genres.GENRES)
    return {k: round(metrics[k], 4) for k in ("micro_f1", "macro_f1", "samples_f1", "hamming_loss")}


def baseline(state: Path, labelled: list[dict[str, Any]], test: list[dict[str, Any]]) -> dict[str, float]:
    """One-vs-rest logistic regression (sklearn defaults) on the trainer's cached base-MiniLM vectors."""
    from claystream_trainer.adapters.file_embedding_cache import FileEmbeddingCache
    from claystream_trainer.domain.ports import DatasetKey
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer

    models = state / "models"
    body = next(p.name for p in (models / "cache" / WS / DS).iterdir() if p.name.startswith("base-"))
    ids = [rid(r) for r in labelled + test]
    vectors = FileEmbeddingCache(models).get_many(DatasetKey(WS, DS), body, ids)
    if len(vectors) < len(ids):
        raise RuntimeError(f"{len(ids) - len(vectors)} records have no {body} vector in the trainer's cache")
    binarizer = MultiLabelBinarizer(classes=demo_genres.GENRES)
    y = binarizer.fit_transform([r["genres"] for r in labelled])
    x_train = np.stack([vectors[rid(r)] for r in labelled])
    x_test = np.stack([vectors[rid(r)] for r in test])
    import warnings

    with warnings.catch_warnings():  # genres without a positive among the answers: sklearn warns, predicts 0
        warnings.simplefilter("ignore")
        model = OneVsRestClassifier(LogisticRegression(max_iter=2000)).fit(x_train, y)
        predicted = binarizer.inverse_transform(model.predict(x_test))
    return f1s([r["genres"] for r in test], [list(p) for p in predicted])


def set_up(launcher: ServiceLauncher, api: DemoApi) -> tuple[Any, Any]:
    import claystream
    from claystream_devstack.demo_setup import CredentialStore, ensure_annotator, ensure_api_key

    store = CredentialStore(launcher.stack.state_dir / "demo-credentials.json")
    credentials = ensure_annotator(api, store, username="annotator",
                                   annotate_env=launcher.env_for(SERVICE_BY_NAME["annotate"]))
    key = ensure_api_key(api, store, credentials)
    say(f"workspace {WS}, annotator {credentials.annotator_username}, dataset {DS}: "
        f"{demo_genres.ensure_dataset(api, TRAINER)} (trainer settings {TRAINER})")
    return credentials, claystream.Client(api.urls.ingest, key, api.urls.annotate)


async def run(args: argparse.Namespace, launcher: ServiceLauncher, state: Path) -> dict[str, Any]:
    results: dict[str, Any] = dict.fromkeys(KEYS)
    train = load("train.jsonl.gz")
    test = random.Random(42).sample(load("test.jsonl.gz"), min(args.test, 600))
    train = random.Random(43).sample(train, min(args.train, len(train)))
    labelled = random.Random(42).sample(train, args.labels)
    labelled_ids = {rid(r) for r in labelled}
    pending = {rid(r) for r in train + test} - labelled_ids
    total = len(train) + len(test)
    results.update(labels=len(labelled), pending=len(pending), test=len(test))
    say(f"{len(labelled)} to label, {len(pending)} pending ({len(test)} of them test overviews)")
    urls = ServiceUrls(annotate=launcher.url("annotate"), ingest=launcher.url("ingest"), trainer=launcher.url("trainer"))
    api = DemoApi(urls, service_token=launcher.dev_secrets()["SERVICE_TOKEN"], workspace=WS, dataset=DS)
    client = trainer_client(launcher, WS, DS)
    session = AnnotatorSession(urls.annotate, WS, DS)
    watch = Watch(launcher.stack.ports.kafka_bootstrap, DS)
    try:
        credentials, sdk = await asyncio.to_thread(set_up, launcher, api)
        await watch.start()
        started = time.perf_counter()
        for rows, source in ((train, "tmdb_train"), (test, "tmdb_test")):
            result = await asyncio.to_thread(sdk.log, demo_genres.records_of(rows, source=source), dataset=DS,
                                             batch_size=500, progress=False)
            if result.rejected:
                raise RuntimeError(f"ingest rejected {len(result.rejected)}: {result.rejected[0]}")
        say(f"imported {total} overviews through ingest (SDK) in {time.perf_counter() - started:.1f}s")

        async def status() -> dict[str, Any]:
            return dict((await client.get("/status")).json())

        async def stored() -> bool:
            return await asyncio.to_thread(api.record_total) >= total

        async def embedded() -> bool:
            return int((await status())["embedded_records"]) >= total

        async def embedded_count() -> str:
            return f"{(await status())['embedded_records']}/{total} embedded"

        await wait(stored, 1800, "annotate to store every overview", every_s=1)
        await wait(embedded, 3600, "the embedding cache", every_s=1, progress=embedded_count, progress_s=60)
        say(f"stored and embedded {total} overviews {time.perf_counter() - started:.1f}s after the import began")

        await asyncio.to_thread(session.login, credentials.annotator_username, credentials.annotator_password)
        began = time.perf_counter()
        for row in labelled:
            await asyncio.to_thread(session.submit, rid(row), {QUESTION: row["genres"]})
        threshold_at = time.perf_counter()
        say(f"{len(labelled)} answers submitted through annotate's API in {threshold_at - began:.1f}s")

        version = await fresh_suggestions(args, client, watch, pending, len(labelled), threshold_at)
        results["refresh_to_suggestions_s"] = round(time.perf_counter() - threshold_at, 2)
        trained = next(e.data for e in watch.of("model.trained", model_version=version))
        results["cv_micro_f1"] = trained.metrics.get("micro_f1")
        suggested = watch.suggestions[version]
        figures = f1s([r["genres"] for r in test], [list(suggested[rid(r)]) for r in test])
        results.update(figures)
        say(f"threshold → suggestions for {len(pending)} pending: {results['refresh_to_suggestions_s']}s (model "
            f"{version}, {trained.label_count} answers, CV {trained.metrics}); on {len(test)} test overviews: {figures}")
        base = await asyncio.to_thread(baseline, state, labelled, test)
        results.update({f"baseline_ovr_{k}": v for k, v in base.items() if k != "hamming_loss"})
        say(f"baseline one-vs-rest logistic regression (sklearn defaults, threshold 0.5) on the same frozen "
            f"embeddings and answers: {base}")
        if args.finetune:
            await finetune(client, watch, test, results)
    finally:
        await watch.stop()
        await client.aclose()
        session.close()
        api.close()
    return results


async def fresh_suggestions(args: argparse.Namespace, client: Any, watch: Watch, pending: set[str], labels: int,
                            threshold_at: float) -> str:
    """The first model on ``labels`` answers whose suggestions cover every pending record (asks for a refresh
    with POST /train when the trainer counted every answer but is not due for one)."""
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
            if 0 < due < TRAINER["refresh_every"]:
                (await client.post("/train", json={"kind": "refresh"})).raise_for_status()
                say(f"  no refresh due for the last {due} answers: asked for one (POST /train)")
        return None

    async def seen() -> str:
        return (f"models {[(e.data.model_version, e.data.label_count) for e in watch.of('model.trained')]}, "
                f"suggestions per version {({v: len(s) for v, s in watch.suggestions.items()})}")

    return str(await wait(fresh, 1800, "fresh suggestions on every pending record", progress=seen, progress_s=30))


async def finetune(client: Any, watch: Watch, test: list[dict[str, Any]], results: dict[str, Any]) -> None:
    began = time.perf_counter()
    (await client.post("/train", json={"kind": "finetune"})).raise_for_status()

    async def trained() -> Any:
        found = [e for e in watch.of("model.trained") if e.data.kind == "finetune"]
        failed = watch.of("training.failed")
        if failed:
            raise RuntimeError(f"fine-tune failed: {failed[-1].data.error}")
        return found[-1] if found else None

    event = await wait(trained, 3600, "the fine-tune", every_s=1)
    results["finetune_s"] = round(time.perf_counter() - began, 1)
    version = event.data.model_version
    models = await model_list(client)
    results["finetune_promoted"] = models["champion"] == version
    predicted: list[list[str]] = []
    for i in range(0, len(test), 256):
        answer = await client.post("/predict", json={"texts": [r["text"] for r in test[i:i + 256]],
                                                      "model_version": version, "forward": False})
        answer.raise_for_status()
        predicted += [p["labels"] for p in answer.json()["predictions"]]
    figures = f1s([r["genres"] for r in test], predicted)
    results["finetune_micro_f1"], results["finetune_macro_f1"] = figures["micro_f1"], figures["macro_f1"]
    say(f"fine-tune {version}: {results['finetune_s']}s, hold-out {summary_of(event.data.metrics)}, promoted "
        f"{results['finetune_promoted']}; its head on {len(test)} test overviews: {figures}")


def summary_of(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}


def report(results: dict[str, Any]) -> None:
    misses = []
    refresh = results.get("refresh_to_suggestions_s")
    if refresh is None or refresh > 30:
        misses.append(f"refresh_to_suggestions_s {refresh} > 30")
    micro, base = results.get("micro_f1"), results.get("baseline_ovr_micro_f1")
    if micro is None or base is None or micro < base:
        misses.append(f"micro_f1 {micro} < baseline_ovr_micro_f1 {base}")
    for miss in misses:
        say(f"MISS: {miss}")
    if not misses:
        say("every goal met")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=2399, help="train overviews imported (the labelled ones among them)")
    parser.add_argument("--test", type=int, default=600, help="test overviews imported and scored")
    parser.add_argument("--labels", type=int, default=200, help="train overviews labelled through annotate's API")
    parser.add_argument("--nudge-s", type=float, default=5.0, help="how long to wait before asking for a refresh")
    parser.add_argument("--finetune", action="store_true", help="then fine-tune the body (SetFit) and score it")
    parser.add_argument("--max-steps", type=int, default=30, help="fine-tune steps")
    parser.add_argument("--keep-state", action="store_true", help="keep the temporary state folder")
    args = parser.parse_args()
    if not (DATA / "train.jsonl.gz").exists():
        raise SystemExit(f"{DATA} not found: set CLAYSTREAM_SHARED_DATA to the folder holding tmdb_genres/")
    state = Path(tempfile.mkdtemp(prefix="claystream-bench-multilabel-"))
    say(f"state folder {state}")
    stack, launcher = start_services(state, max_steps=args.max_steps)
    results: dict[str, Any] = dict.fromkeys(KEYS)
    try:
        results = asyncio.run(run(args, launcher, state))
    finally:
        launcher.stop(("ingest", "annotate", "trainer"))
        stack.stop()
        if not args.keep_state:
            shutil.rmtree(state, ignore_errors=True)
    report(results)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
