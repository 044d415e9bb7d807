"""Full SetFit fine-tune (background thread), judged against the champion on the same held-out split.

The candidate body is trained on the training part only; both the candidate body and the champion's
body get a head fitted on that same part and are scored on the same held-out part.  Only a strict
gain promotes; the promoted model's head is then refitted on every label.  The embedding cache of
the new body is filled by the background embedder (and suggestions follow as it goes).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
from claystream_common.datasets import DatasetSpec
from claystream_common.events import ModelTrained, TrainingStarted, new_event

from claystream_trainer.domain.evaluation import better, evaluate_on, fit_head, holdout_split, metrics_for
from claystream_trainer.domain.ports import DatasetKey, Embedder
from claystream_trainer.domain.serving_head import ServingHead
from claystream_trainer.services.champions import ChampionCache
from claystream_trainer.services.finetune_multilabel import run_multilabel_finetune
from claystream_trainer.services.pool_student import PartStudent, StudentSetup, confident_examples, student_of_part
from claystream_trainer.services.ports_bundle import TrainerPorts
from claystream_trainer.services.refresh import RunOutcome, check_trainable, promote_and_suggest, register, summary
from claystream_trainer.services.training_progress import throttled_progress
from claystream_trainer.services.training_data import ensure_embeddings, load_training_data

log = logging.getLogger(__name__)


async def run_finetune(
    dataset: DatasetKey,
    spec: DatasetSpec | None,
    *,
    ports: TrainerPorts,
    champions: ChampionCache,
    params: object,
    holdout: float,
    base_model: str,
    run_id: str | None = None,
    seed: int = 42,
    suggestion_batch: int = 2000,
    on_body_ready: Callable[[DatasetKey], None] | None = None,
    student: StudentSetup | None = None,
    pseudo_labels: int = 0,
) -> RunOutcome:
    """``pseudo_labels``: how many confident pool records (labelled by a student taught by the training part
    only) join the training texts; needs ``student`` (its settings and row cache)."""
    if ports.finetuner is None:
        raise RuntimeError("no fine-tuner configured")
    started = time.perf_counter()
    run_id = run_id or uuid.uuid4().hex
    data = await load_training_data(dataset, spec, ports=ports)
    check_trainable(data, spec.trainer.min_per_label if spec else 2)
    if data.multi_label:
        return await run_multilabel_finetune(dataset, data, ports=ports, champions=champions, params=params,
                                             holdout=holdout, base_model=base_model, run_id=run_id, seed=seed,
                                             suggestion_batch=suggestion_batch, on_body_ready=on_body_ready,
                                             publish=_publish, load_body=_load_body)
    split = holdout_split(data.labels, fraction=holdout, seed=seed)
    texts_by_id = await ports.records.texts(dataset, data.record_ids)
    texts = [texts_by_id[r] for r in data.record_ids]
    y = np.asarray(data.labels)
    total = int(getattr(params, "max_steps", 0)) or None
    await _publish(ports, dataset, "training.started", TrainingStarted(
        run_id=run_id, kind="finetune", label_count=len(data.labels), total_steps=total))

    progress = throttled_progress(ports, dataset, run_id, _publish)

    train_texts, train_labels = [texts[i] for i in split.train], [str(v) for v in y[split.train]]
    champion = await ports.registry.champion(dataset)
    champion_loaded = await champions.load(champion) if champion is not None else None
    part = None  # the champion's kind of student, taught by the training part only
    if student is not None:
        embedder = champion_loaded.embedder if champion_loaded else await asyncio.to_thread(ports.bodies.get, dataset, "base")
        train_ids = [data.record_ids[i] for i in split.train]
        vectors = await ensure_embeddings(dataset, embedder, train_ids, ports=ports)
        part = await student_of_part(dataset, train_ids, train_labels, data.classes, vectors, embedder, student,
                                     ports=ports, seed=seed)
    if part is not None and pseudo_labels > 0:
        extra_texts, extra_labels = await confident_examples(dataset, part, data.classes, ports=ports,
                                                             count=pseudo_labels)
        train_texts, train_labels = train_texts + extra_texts, train_labels + extra_labels
    result = await asyncio.to_thread(ports.finetuner.finetune, train_texts, train_labels, params, progress)
    try:
        candidate_body = await asyncio.to_thread(_load_body, ports, dataset, result.body_dir, run_id)
        candidate_vectors = await asyncio.to_thread(candidate_body.embed, texts)
        candidate_head = await asyncio.to_thread(fit_head, candidate_vectors[split.train], list(y[split.train]))
        metrics = evaluate_on(candidate_head, candidate_vectors[split.test], list(y[split.test]), data.classes)
        champion_metrics = None
        carried = None
        if champion_loaded is not None:
            carried = champion_loaded.head
            old_vectors = await ensure_embeddings(dataset, champion_loaded.embedder, data.record_ids, ports=ports)
            old_head = await asyncio.to_thread(fit_head, old_vectors[split.train], list(y[split.train]))
            champion_metrics = evaluate_on(old_head, old_vectors[split.test], list(y[split.test]), data.classes)
            metrics["champion_body_on_same_split"] = summary(champion_metrics)
            if carried is not None and carried.serves == "student" and part is not None and student is not None:
                # the champion serves its student: the candidate must beat that (taught by the same part)
                served = await _student_on(dataset, part, [data.record_ids[i] for i in split.test],
                                           list(y[split.test]), data.classes, student, ports=ports)
                if served is not None:
                    champion_metrics = served
        metrics["champion_on_same_split"] = summary(champion_metrics) if champion_metrics else None
        final_head = ServingHead(embedding_head=await asyncio.to_thread(fit_head, candidate_vectors, data.labels))
        if carried is not None and carried.student is not None:
            # the champion's student keeps serving until the pool is re-embedded with this body and a refresh
            # trains a new student with it as the teacher (see EmbeddingWorker's stale-student check)
            final_head.student, final_head.serves = carried.student, carried.serves
        entry = await register(dataset, data, head=final_head, body_ref="self", body_key="self", kind="finetune",
                               metrics=metrics, params={**result.params, "pseudo_labels": len(train_texts) - len(split.train),
                                       "trained_on": [data.record_ids[i] for i in split.train]},
                               ports=ports, base_model=base_model,
                               started=started, body_dir=result.body_dir)
    finally:
        shutil.rmtree(result.body_dir, ignore_errors=True)
    await _publish(ports, dataset, "model.trained", ModelTrained(
        run_id=run_id, model_version=entry.version, kind="finetune", label_count=entry.label_count,
        metrics=summary(metrics), duration_s=round(time.perf_counter() - started, 3)))
    promoted = better(metrics, champion_metrics, strict=True)
    suggestions = 0
    if promoted:
        loaded = await champions.load(entry)  # from the artifact just written (hash-checked)
        ports.cache.put_many(dataset, loaded.embedder.key, data.record_ids, candidate_vectors)
        suggestions = await promote_and_suggest(dataset, loaded, champion, ports=ports, champions=champions,
                                                labelled=set(data.record_ids), batch=suggestion_batch,
                                                rows=student.rows if student else None)
        if on_body_ready is not None:
            on_body_ready(dataset)  # the background embedder re-embeds every record with the new body
    else:
        log.info("fine-tune %s of %s not promoted: %s vs champion %s", entry.version, dataset,
                 summary(metrics), summary(champion_metrics or {}))
    return RunOutcome(entry=entry, promoted=promoted, suggestions=suggestions, seconds=time.perf_counter() - started)


async def _student_on(dataset: DatasetKey, part: PartStudent, record_ids: list[str], labels: list[str],
                      classes: list[str], student: StudentSetup, *, ports: TrainerPorts) -> dict[str, Any] | None:
    present, counts = await student.rows.rows(dataset, record_ids, ports.records)
    if present != record_ids:
        return None
    predicted = np.asarray(classes)[part.student.probabilities(counts, classes).argmax(axis=1)]
    metrics = metrics_for(labels, [str(p) for p in predicted], classes)
    metrics["protocol"] = "stratified hold-out"
    return metrics


def _load_body(ports: TrainerPorts, dataset: DatasetKey, body_dir: str, run_id: str) -> Embedder:
    ports.bodies.register(dataset, f"run-{run_id}", body_dir)
    return ports.bodies.get(dataset, f"run-{run_id}")


async def _publish(ports: TrainerPorts, dataset: DatasetKey, event_type: str, data: object) -> None:
    await ports.publisher.publish_many([new_event(event_type, data, dataset=dataset.dataset,  # type: ignore[arg-type]
                                                  workspace=dataset.workspace)], keys=[dataset.dataset])
