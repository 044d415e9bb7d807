"""Offline replay of the loop's uncertainty ordering: how many labels does it need to match random labels?

The replay uses what the service uses: the embedding head as teacher, the pool student (when enabled) as
the served model, the margin priority of the served model to pick the next ``step`` records to label.
The target is the mean test accuracy of several random draws of ``target_labels`` labels (one draw swings
by ±2-3 points on a few thousand test texts).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from claystream_trainer.domain.evaluation import fit_head
from claystream_trainer.domain.student import (
    StudentConfig,
    align,
    count_rows,
    fit_vocabulary,
    self_train,
    teacher_probabilities,
)
from claystream_trainer.domain.uncertainty import margin_priority

SERVICE_STUDENT = StudentConfig()  # what a refresh trains by default


@dataclass
class Replay:
    target: float
    draws: list[float]
    reached: int | None
    curve: list[tuple[int, float]] = field(default_factory=list)


class _Loop:
    def __init__(self, texts: dict[str, str], vectors: dict[str, np.ndarray], truth: dict[str, str],
                 pool: Sequence[str], test: Sequence[str], config: StudentConfig | None) -> None:
        self.truth = truth
        self.classes = sorted({truth[r] for r in list(pool) + list(test)})
        self.pool = list(pool)
        self.test = list(test)
        self.everything = self.pool + self.test  # what is pending in the service: test texts included
        self.config = config
        self.vectors = np.stack([vectors[r] for r in self.everything])
        self.row = {r: i for i, r in enumerate(self.everything)}
        self.y_test = np.asarray([truth[r] for r in self.test])
        if config is not None:
            counts = count_rows([texts[r] for r in self.everything])
            self.rows = fit_vocabulary(counts, min_df=config.min_df).weigh(counts)

    def probabilities(self, chosen: Sequence[str]) -> np.ndarray:
        """Served-model probabilities (columns: ``self.classes``) for every pending record."""
        labels = [self.truth[r] for r in chosen]
        index = [self.row[r] for r in chosen]
        teacher = fit_head(self.vectors[index], labels)
        probabilities = teacher_probabilities(teacher, self.vectors, self.classes)
        if self.config is None:
            return probabilities
        others = np.setdiff1d(np.arange(len(self.everything)), index)
        model = self_train(self.rows[index], labels, self.rows[others], probabilities[others], self.classes,
                           self.config)
        return align(model.classes_, model.predict_proba(self.rows), self.classes)

    def accuracy(self, probabilities: np.ndarray) -> float:
        predicted = np.asarray(self.classes)[probabilities[len(self.pool):].argmax(axis=1)]
        return float((predicted == self.y_test).mean())


def labels_to_match(texts: dict[str, str], vectors: dict[str, np.ndarray], truth: dict[str, str],
                    pool: Sequence[str], test: Sequence[str], *, config: StudentConfig | None = SERVICE_STUDENT,
                    target_labels: int = 100, draws: int = 5, start: int = 10, step: int = 8,
                    max_labels: int = 200, seed: int = 42, first_draw: Sequence[str] | None = None) -> Replay:
    """``pool``: the records that may be labelled (their truth is the oracle); ``test``: never labelled;
    ``config``: the student's settings, or None to replay the embedding head alone.
    ``first_draw``: the random draw the service was actually given (counts as the first of ``draws``)."""
    loop = _Loop(texts, vectors, truth, pool, test, config)
    samples = [list(first_draw)] if first_draw is not None else []
    samples += [random.Random(seed + 1 + i).sample(loop.pool, target_labels) for i in range(draws - len(samples))]
    accuracies = [loop.accuracy(loop.probabilities(s)) for s in samples]
    target = float(np.mean(accuracies))
    rng = random.Random(seed)
    chosen = rng.sample(loop.pool, start)
    while len({truth[r] for r in chosen}) < 2:
        chosen = rng.sample(loop.pool, start)
    replay = Replay(target=target, draws=accuracies, reached=None)
    while len(chosen) <= max_labels:
        probabilities = loop.probabilities(chosen)
        accuracy = loop.accuracy(probabilities)
        replay.curve.append((len(chosen), accuracy))
        if accuracy >= target:
            replay.reached = len(chosen)
            break
        taken = set(chosen)
        candidates = [i for i, r in enumerate(loop.pool) if r not in taken]
        if not candidates:
            break
        priority = margin_priority(probabilities[candidates])
        chosen += [loop.pool[candidates[i]] for i in np.argsort(-priority, kind="stable")[:step]]
    return replay
