"""Fast refresh (seconds): refit the head on cached embeddings, evaluate, register, promote, suggest."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from claystream_common.datasets import DatasetSpec
from claystream_common.events import ModelPromoted, ModelTrained, new_event
from opentelemetry import trace

from claystream_trainer.domain.evaluation import Split, better, cross_validate, fit_head
from claystream_trainer.domain.multilabel import cross_validate_and_fit as multilabel_cross_validate_and_fit
from claystream_trainer.domain.multilabel import ready_labels
from claystream_trainer.domain.ports import DatasetKey, ModelEntry
from claystream_trainer.domain.serving_head import ServingHead
from claystream_trainer.domain.student import PoolStudent
from claystream_trainer.services.champions import ChampionCache, LoadedModel
from claystream_trainer.services.pool_rows import PoolRowCache
from claystream_trainer.services.pool_student import StudentSetup, fit_pool_student, pending_ids
from claystream_trainer.services.ports_bundle import TrainerPorts
from claystream_trainer.services.suggestions import publish_suggestions
from claystream_trainer.services.training_data import TrainingData, ensure_embeddings, load_training_data

_TRACER = trace.get_tracer("claystream.trainer")

log = logging.getLogger(__name__)


class NotEnoughLabels(ValueError):
    """Training was asked for but the labels cannot support it yet (not an error to retry)."""


@dataclass(frozen=True)
class RunOutcome:
    entry: ModelEntry
    promoted: bool
    suggestions: int
    seconds: float


def check_trainable(data: TrainingData, min_per_label: int = 2) -> None:
    if data.multi_label:
        positives = Counter(label for answer in data.labels for label in answer)
        if len(ready_labels(positives, data.classes, max(2, min_per_label))) < 2:
            raise NotEnoughLabels(f"need ≥2 labels with ≥{max(2, min_per_label)} answers each, "
                                  f"have {dict(positives)}")
        return
    counts = {c: data.labels.count(c) for c in set(data.labels)}
    if len(counts) < 2 or min(counts.values()) < max(2, min_per_label):
        raise NotEnoughLabels(f"need ≥2 classes with ≥{max(2, min_per_label)} labels each, have {counts}")


async def run_refresh(
    dataset: DatasetKey,
    spec: DatasetSpec | None,
    *,
    ports: TrainerPorts,
    champions: ChampionCache,
    base_model: str,
    run_id: str | None = None,
    seed: int = 42,
    suggestion_batch: int = 2000,
    student: StudentSetup | None = None,
) -> RunOutcome:
    started = time.perf_counter()
    run_id = run_id or uuid.uuid4().hex
    champion = await ports.registry.champion(dataset)
    body_ref = champion.body_ref if champion else "base"
    embedder = await asyncio.to_thread(ports.bodies.get, dataset, body_ref) if champion is None else (
        await champions.load(champion)).embedder
    data = await load_training_data(dataset, spec, ports=ports)
    check_trainable(data, spec.trainer.min_per_label if spec else 2)
    vectors = await ensure_embeddings(dataset, embedder, data.record_ids, ports=ports)
    splits, protocol, biased = await evaluation_splits(dataset, body_ref, data, ports=ports)
    with _TRACER.start_as_current_span("trainer evaluate", attributes={"claystream.training.labels": len(data.labels)}):
        metrics, head = await asyncio.to_thread(_evaluate_and_fit, vectors, data, seed, splits)
    if protocol is not None:
        metrics["protocol"] = protocol
    serving = ServingHead(embedding_head=head)
    params: dict[str, Any] = {"head": "LogisticRegression", "C": head.C, "serves": "embedding",
                              "training_kind": data.kind}
    if data.multi_label:
        params.update(head="one-vs-rest LogisticRegression", threshold=head.threshold, max_labels=head.max_labels)
    if student is not None and not data.multi_label:  # the pool student is single-label only
        with _TRACER.start_as_current_span("trainer pool student"):
            fitted = await fit_pool_student(dataset, data, vectors, embedder, student, ports=ports, seed=seed,
                                            splits=splits)
        if fitted is not None:
            if protocol is not None:
                fitted[1]["protocol"] = protocol
            metrics, params = _choose(serving, fitted, metrics, params, biased_cv=biased)
    entry = await register(dataset, data, head=serving, body_ref=body_ref, body_key=embedder.key, kind="refresh",
                           metrics=metrics, params=params, ports=ports, base_model=base_model, started=started)
    await ports.publisher.publish_many([new_event("model.trained", ModelTrained(
        run_id=run_id, model_version=entry.version, kind="refresh", label_count=entry.label_count,
        metrics=summary(metrics), duration_s=round(time.perf_counter() - started, 3)),
        dataset=dataset.dataset, workspace=dataset.workspace)], keys=[dataset.dataset])
    # Same body and same protocol as the champion, on a superset of its labels: better or equal by construction;
    # only a champion with another body (a fine-tune that landed meanwhile) is compared on its metrics.
    promoted = champion is None or champion.body_ref == body_ref or better(metrics, champion.metrics, strict=False)
    suggestions = 0
    if promoted:
        loaded = LoadedModel(entry=entry, head=serving, embedder=embedder)
        suggestions = await promote_and_suggest(dataset, loaded, champion, ports=ports, champions=champions,
                                                labelled=set(data.record_ids), batch=suggestion_batch,
                                                rows=student.rows if student else None)
    return RunOutcome(entry=entry, promoted=promoted, suggestions=suggestions, seconds=time.perf_counter() - started)


MIN_UNSEEN = 10  # fewer labels that a fine-tuned body never saw: no fair comparison on them


async def evaluation_splits(dataset: DatasetKey, body_ref: str, data: TrainingData, *,
                            ports: TrainerPorts) -> tuple[list[Split] | None, str | None, bool]:
    """(splits, protocol, biased).  A fine-tuned body was trained on most of the labels, so a CV over them
    flatters its own head (it has seen those texts with their labels) and would wrongly beat the student:
    evaluate instead on the labels it never saw (its fine-tune's hold-out and every newer label), training
    on the ones it saw.  ``biased``: a fine-tuned body with too few unseen labels (plain CV, student preferred)."""
    if body_ref == "base":
        return None, None, False
    owner = await ports.registry.get(dataset, body_ref)
    trained_on = set((owner.params if owner else {}).get("trained_on") or [])
    seen = np.asarray([i for i, r in enumerate(data.record_ids) if r in trained_on], dtype=int)
    unseen = np.asarray([i for i, r in enumerate(data.record_ids) if r not in trained_on], dtype=int)
    if len(unseen) < MIN_UNSEEN or len(seen) == 0 or len({data.labels[i] for i in seen}) < 2:
        return None, None, True
    return [Split(seen, unseen)], f"labels the fine-tuned body never saw ({len(unseen)})", False


def _evaluate_and_fit(vectors: np.ndarray, data: TrainingData, seed: int,
                      splits: list[Split] | None = None) -> tuple[dict[str, Any], Any]:
    if data.multi_label:
        return multilabel_cross_validate_and_fit(vectors, data.labels, data.classes, seed=seed, splits=splits)
    metrics = cross_validate(vectors, data.labels, data.classes, seed=seed, splits=splits)
    return metrics, fit_head(vectors, data.labels, seed=seed)


def _choose(serving: ServingHead, fitted: tuple[PoolStudent, dict[str, Any]], metrics: dict[str, Any],
            params: dict[str, Any], *, biased_cv: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """The student serves when its figures are at least the embedding head's on the same splits (or when
    those splits are known to flatter the head: ``biased_cv``)."""
    pool_student, student_metrics = fitted
    serving.student = pool_student
    components = {"embedding": summary(metrics), "student": summary(student_metrics)}
    if biased_cv or better(student_metrics, metrics, strict=False):
        serving.serves = "student"
        metrics = student_metrics
    return ({**metrics, "serves": serving.serves, "components": components},
            {**params, "serves": serving.serves, "student": pool_student.params})


def summary(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = ("accuracy", "macro_f1", "micro_f1", "samples_f1", "hamming_loss", "n_eval", "protocol")
    return {k: metrics[k] for k in keys if k in metrics}


async def register(dataset: DatasetKey, data: TrainingData, *, head: Any, body_ref: str, body_key: str, kind: str,
                   metrics: dict[str, Any], params: dict[str, Any], ports: TrainerPorts, base_model: str,
                   started: float, body_dir: str | None = None) -> ModelEntry:
    version = await ports.registry.next_version(dataset)
    if body_ref == "self":
        body_ref = version
    path, sha = await asyncio.to_thread(ports.artifacts.save, dataset, version, head, body_dir)
    entry = ModelEntry(
        version=version, workspace=dataset.workspace, dataset=dataset.dataset, kind=kind, status="candidate",
        label_count=len(data.labels), labels=list(data.classes), question=data.question, text_field=data.text_field,
        base_model=base_model, body_ref=body_ref, body_key=body_key if body_key != "self" else version,
        params={**params, "train_seconds": round(time.perf_counter() - started, 3)}, metrics=metrics,
        artifact_path=path, sha256=sha,
    )
    await ports.registry.add(entry)
    return entry


async def promote_and_suggest(dataset: DatasetKey, loaded: LoadedModel, previous: ModelEntry | None, *,
                              ports: TrainerPorts, champions: ChampionCache, labelled: set[str], batch: int,
                              rows: PoolRowCache | None = None) -> int:
    """Promote, announce, then score the pending records: all of them from their text when the student
    serves, else every one whose embedding is cached for this body."""
    entry = loaded.entry
    await ports.registry.promote(dataset, entry.version)
    entry.status = "champion"
    champions.put(dataset, loaded)
    await ports.publisher.publish_many([new_event("model.promoted", ModelPromoted(
        model_version=entry.version, previous_version=previous.version if previous else None,
        metrics=summary(entry.metrics), labels=entry.labels), dataset=dataset.dataset, workspace=dataset.workspace)],
        keys=[dataset.dataset])
    pending = await pending_ids(dataset, labelled, ports=ports)
    head = loaded.head
    if rows is not None and not head.needs_vectors():
        ids, counts = await rows.rows(dataset, pending, ports.records)
        if not ids:
            return 0
        probabilities = await asyncio.to_thread(head.probabilities, counts=counts)
    else:
        cached = ports.cache.get_many(dataset, loaded.embedder.key, pending)
        ids = [r for r in pending if r in cached]
        if not ids:
            return 0
        probabilities = head.embedding_head.predict_proba(np.stack([cached[r] for r in ids]))
    return await publish_suggestions(dataset, entry, head, ids, probabilities, publisher=ports.publisher,
                                     batch=batch, records=ports.records)
