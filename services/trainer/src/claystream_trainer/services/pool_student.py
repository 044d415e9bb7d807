"""Fit the pool student of a refresh: the pending records with a cached embedding are its pool."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from claystream_trainer.domain.evaluation import Split
from claystream_trainer.domain.ports import DatasetKey, Embedder
from claystream_trainer.domain.student import PoolStudent, StudentConfig, fit_student, surest, train_student
from claystream_trainer.services.pool_rows import PoolRowCache
from claystream_trainer.services.ports_bundle import TrainerPorts
from claystream_trainer.services.training_data import TrainingData


@dataclass(frozen=True)
class StudentSetup:
    config: StudentConfig
    rows: PoolRowCache
    max_pool: int = 20_000  # a seeded sample of the pending records beyond this (bounds a refresh's cost)


async def pending_ids(dataset: DatasetKey, labelled: set[str], *, ports: TrainerPorts) -> list[str]:
    return [r for r in await ports.records.all_ids(dataset) if r not in labelled]


@dataclass(frozen=True)
class _Inputs:
    labelled_counts: sp.csr_matrix
    pool: list[str]
    pool_counts: sp.csr_matrix
    pool_vectors: np.ndarray


async def _inputs(dataset: DatasetKey, record_ids: list[str], embedder: Embedder, setup: StudentSetup, *,
                  ports: TrainerPorts, seed: int) -> _Inputs | None:
    """The labelled records' count rows and the pool: the pending records with a cached vector of this body
    (a seeded sample beyond ``max_pool``).  None when the pool is too small for self-training to show
    anything, or when a labelled text vanished meanwhile (the next run tries again)."""
    pending = await pending_ids(dataset, set(record_ids), ports=ports)
    cached = ports.cache.get_many(dataset, embedder.key, pending)
    pool = sorted(r for r in pending if r in cached)
    if len(pool) > setup.max_pool:
        pool = sorted(random.Random(seed).sample(pool, setup.max_pool))
    if len(pool) < setup.config.min_pool:
        return None
    present, labelled_counts = await setup.rows.rows(dataset, record_ids, ports.records)
    if present != record_ids:
        return None
    pool, pool_counts = await setup.rows.rows(dataset, pool, ports.records)
    return _Inputs(labelled_counts, pool, pool_counts, np.stack([cached[r] for r in pool]))


async def fit_pool_student(dataset: DatasetKey, data: TrainingData, labelled_vectors: np.ndarray, embedder: Embedder,
                           setup: StudentSetup, *, ports: TrainerPorts, seed: int = 42,
                           splits: list[Split] | None = None) -> tuple[PoolStudent, dict[str, Any]] | None:
    """The refresh's student and its CV metrics; None without a usable pool."""
    given = await _inputs(dataset, data.record_ids, embedder, setup, ports=ports, seed=seed)
    if given is None:
        return None
    return await asyncio.to_thread(train_student, labelled_vectors, given.labelled_counts, data.labels, data.classes,
                                   given.pool_vectors, given.pool_counts, setup.config, teacher_key=embedder.key,
                                   seed=seed, splits=splits)


@dataclass(frozen=True)
class PartStudent:
    """A student taught by part of the labels (a fine-tune's training part) and the pool it learnt from."""

    student: PoolStudent
    pool: list[str]
    pool_counts: sp.csr_matrix


async def student_of_part(dataset: DatasetKey, record_ids: list[str], labels: list[str], classes: list[str],
                          labelled_vectors: np.ndarray, embedder: Embedder, setup: StudentSetup, *,
                          ports: TrainerPorts, seed: int = 42) -> PartStudent | None:
    given = await _inputs(dataset, record_ids, embedder, setup, ports=ports, seed=seed)
    if given is None:
        return None
    student = await asyncio.to_thread(fit_student, labelled_vectors, given.labelled_counts, labels, classes,
                                      given.pool_vectors, given.pool_counts, setup.config, seed=seed)
    return PartStudent(student=student, pool=given.pool, pool_counts=given.pool_counts)


async def confident_examples(dataset: DatasetKey, part: PartStudent, classes: list[str], *, ports: TrainerPorts,
                             count: int) -> tuple[list[str], list[str]]:
    """(texts, labels) of the ``count`` pending records the part's student is surest of (a fine-tune's held-out
    labels never taught it, so they never leak into these)."""
    index, chosen = await asyncio.to_thread(surest, part.student, part.pool_counts, classes, count)
    texts = await ports.records.texts(dataset, [part.pool[i] for i in index])
    kept = [(texts[part.pool[i]], str(label)) for i, label in zip(index, chosen, strict=True) if part.pool[i] in texts]
    return [t for t, _ in kept], [label for _, label in kept]
