"""Full SetFit fine-tune for a multi-label question: contrastive pairs from label sets (two texts sharing a
label are a positive pair), then the one-vs-rest head on the new body, judged against the champion.

As for a single-label question (``finetune.py``): the candidate body is trained on the training part only;
the candidate body and the champion's body each get a one-vs-rest head fitted on that part (its threshold
chosen by CV on that part) and are scored on the same held-out part; only a strict gain promotes, and the
promoted model's head is refitted on every answer.  No pool student is involved (multi-label has none).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from claystream_common.events import ModelTrained, TrainingStarted

from claystream_trainer.domain.evaluation import better
from claystream_trainer.domain.multilabel import cross_validate_and_fit, multilabel_metrics
from claystream_trainer.domain.ports import DatasetKey
from claystream_trainer.domain.serving_head import ServingHead
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.ports_bundle import TrainerPorts
from claystream_trainer.services.refresh import RunOutcome, promote_and_suggest, register, summary
from claystream_trainer.services.training_progress import throttled_progress
from claystream_trainer.services.training_data import TrainingData, ensure_embeddings


def holdout_indices(n: int, *, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_test = min(n - 2, max(2, round(n * fraction)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _scored_on(vectors: np.ndarray, labels: list[Any], classes: list[str], train: np.ndarray, test: np.ndarray,
               seed: int) -> dict[str, Any]:
    _, head = cross_validate_and_fit(vectors[train], [labels[i] for i in train], classes, seed=seed)
    metrics = multilabel_metrics([labels[i] for i in test], head.decide(head.predict_proba(vectors[test])), classes)
    metrics.update(protocol="hold-out", threshold=head.threshold)
    return metrics


async def run_multilabel_finetune(dataset: DatasetKey, data: TrainingData, *, ports: TrainerPorts,
                                  champions: ChampionCache, params: object, holdout: float, base_model: str,
                                  run_id: str, seed: int, suggestion_batch: int,
                                  on_body_ready: Callable[[DatasetKey], None] | None,
                                  publish: Callable[..., Any], load_body: Callable[..., Any]) -> RunOutcome:
    assert ports.finetuner is not None
    started = time.perf_counter()
    train, test = holdout_indices(len(data.labels), fraction=holdout, seed=seed)
    texts_by_id = await ports.records.texts(dataset, data.record_ids)
    texts = [texts_by_id[r] for r in data.record_ids]
    total = int(getattr(params, "max_steps", 0)) or None
    await publish(ports, dataset, "training.started", TrainingStarted(
        run_id=run_id, kind="finetune", label_count=len(data.labels), total_steps=total))
    progress = throttled_progress(ports, dataset, run_id, publish)

    result = await asyncio.to_thread(ports.finetuner.finetune, [texts[i] for i in train],
                                     [tuple(data.labels[i]) for i in train], params, progress)
    try:
        body = await asyncio.to_thread(load_body, ports, dataset, result.body_dir, run_id)
        vectors = np.asarray(await asyncio.to_thread(body.embed, texts))
        metrics = await asyncio.to_thread(_scored_on, vectors, data.labels, data.classes, train, test, seed)
        champion = await ports.registry.champion(dataset)
        champion_metrics = None
        if champion is not None:
            old = await champions.load(champion)
            old_vectors = await ensure_embeddings(dataset, old.embedder, data.record_ids, ports=ports)
            champion_metrics = await asyncio.to_thread(_scored_on, old_vectors, data.labels, data.classes, train,
                                                       test, seed)
        metrics["champion_on_same_split"] = summary(champion_metrics) if champion_metrics else None
        _, final = await asyncio.to_thread(cross_validate_and_fit, vectors, data.labels, data.classes, seed=seed)
        entry = await register(
            dataset, data, head=ServingHead(embedding_head=final), body_ref="self", body_key="self",
            kind="finetune", metrics=metrics, ports=ports, base_model=base_model, started=started,
            body_dir=result.body_dir,
            params={**result.params, "training_kind": data.kind, "head": "one-vs-rest LogisticRegression",
                    "threshold": final.threshold, "max_labels": final.max_labels, "trained_on": [data.record_ids[i] for i in train]})
    finally:
        shutil.rmtree(result.body_dir, ignore_errors=True)
    await publish(ports, dataset, "model.trained", ModelTrained(
        run_id=run_id, model_version=entry.version, kind="finetune", label_count=entry.label_count,
        metrics=summary(metrics), duration_s=round(time.perf_counter() - started, 3)))
    promoted = better(metrics, champion_metrics, strict=True)
    suggestions = 0
    if promoted:
        loaded = await champions.load(entry)
        ports.cache.put_many(dataset, loaded.embedder.key, data.record_ids, vectors)
        suggestions = await promote_and_suggest(dataset, loaded, champion, ports=ports, champions=champions,
                                                labelled=set(data.record_ids), batch=suggestion_batch)
        if on_body_ready is not None:
            on_body_ready(dataset)  # the background embedder re-embeds every record with the new body
    return RunOutcome(entry=entry, promoted=promoted, suggestions=suggestions, seconds=time.perf_counter() - started)
