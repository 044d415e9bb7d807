"""Multi-label questions: a one-vs-rest head on the body's embeddings, its decision threshold, its metrics.

One logistic regression per label on the same embeddings (the fast tier), with balanced class weights
(a genre on 2 % of the answers is otherwise never predicted); a label seen always or never in
the training labels gets a constant probability.  The decision threshold is the one that maximises micro-F1
over the cross-validation's out-of-fold probabilities (few labels → probabilities of rare labels stay far
below 0.5, so a fixed 0.5 misses most of them).  When every training answer has at least one label, the
most probable label is always predicted (an empty answer was never taught); and no prediction has more labels
than the largest answer it learned from.  Without that cap a model with little signal (18 answers of one to
three genres) chose the lowest threshold, where every label passes (recall 1 is worth most micro-F1 on noise),
and pre-ticked 8 to 13 of 19 genres on every record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, hamming_loss, precision_recall_fscore_support
from sklearn.model_selection import KFold, train_test_split

from claystream_trainer.domain.evaluation import Split

# Measured on tmdb_genres (200 train answers, seed 42; frozen MiniLM; 600 test overviews; micro / macro-F1):
# C=4 (the single-label head's) 0.546 / 0.348, C=1 0.522 / 0.278, C=16 0.532 / 0.351;
# C=1 with balanced class weights 0.556 / 0.427 (rare genres are found), C=4 balanced 0.540 / 0.414.
MULTILABEL_C = 1.0
CLASS_WEIGHT = "balanced"
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.1, 0.65, 0.05))


def binarize(label_sets: Sequence[Sequence[str]], classes: Sequence[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(label_sets), len(classes)), dtype=np.int8)
    for row, labels in enumerate(label_sets):
        for label in labels:
            if label in index:
                matrix[row, index[label]] = 1
    return matrix


class OneVsRestHead:
    """``classes_`` / ``predict_proba`` like an sklearn classifier (independent per-label probabilities)."""

    multi_label = True

    def __init__(self, classes: Sequence[str], *, threshold: float = 0.5, min_labels: int = 1,
                 max_labels: int | None = None) -> None:
        self.classes_ = np.asarray(list(classes), dtype=object)
        self.threshold = threshold
        self.min_labels = min_labels
        self.max_labels = max_labels
        self.C = MULTILABEL_C
        self._models: list[LogisticRegression | float] = []

    def fit(self, embeddings: np.ndarray, label_sets: Sequence[Sequence[str]], *, seed: int = 42) -> OneVsRestHead:
        y = binarize(label_sets, list(self.classes_))
        self._models = []
        for column in y.T:
            if column.min() == column.max():
                self._models.append(float(column[0]))  # always or never seen: a constant
            else:
                model = LogisticRegression(max_iter=2000, C=self.C, class_weight=CLASS_WEIGHT, random_state=seed)
                self._models.append(model.fit(embeddings, column))
        self.min_labels = 1 if len(y) and y.sum(axis=1).min() > 0 else 0
        self.max_labels = largest_answer(label_sets)
        return self

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        columns = [np.full(len(embeddings), m) if isinstance(m, float) else m.predict_proba(embeddings)[:, 1]
                   for m in self._models]
        return np.stack(columns, axis=1) if columns else np.zeros((len(embeddings), 0))

    def decide(self, probabilities: np.ndarray) -> list[list[str]]:
        # heads pickled before the cap existed have no max_labels: they decide as they did
        return decide(probabilities, list(self.classes_), self.threshold, self.min_labels,
                      getattr(self, "max_labels", None))


def largest_answer(label_sets: Sequence[Sequence[str]]) -> int | None:
    """How many labels the largest answer has (None when there is no answer to learn it from)."""
    return max((len(set(labels)) for labels in label_sets), default=0) or None


def decide(probabilities: np.ndarray, classes: Sequence[str], threshold: float, min_labels: int,
           max_labels: int | None = None) -> list[list[str]]:
    """Labels at or above the threshold (most probable first); at least the top ``min_labels``, at most the top
    ``max_labels`` (None: no cap)."""
    chosen: list[list[str]] = []
    for row in probabilities:
        order = np.argsort(-row, kind="stable")
        picked = [int(i) for i in order if row[i] >= threshold]
        if len(picked) < min_labels:
            picked = [int(i) for i in order[:min_labels]]
        if max_labels is not None:
            picked = picked[:max_labels]
        chosen.append([str(classes[i]) for i in picked])
    return chosen


def threshold_priority(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """1.0 when some label sits exactly on the threshold (the model cannot decide it), 0.0 when all are sure."""
    if probabilities.shape[1] == 0:
        return np.zeros(len(probabilities))
    distance = np.abs(probabilities - threshold) / max(threshold, 1.0 - threshold)
    return 1.0 - distance.min(axis=1)


def multilabel_metrics(true_sets: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
                       classes: Sequence[str]) -> dict[str, Any]:
    """micro/macro/samples F1, Hamming loss, exact-match accuracy, per-label figures (macro over the labels
    present in the evaluated answers)."""
    y, p = binarize(true_sets, classes), binarize(predicted, classes)
    present = [i for i in range(len(classes)) if y[:, i].any()]
    precision, recall, f1, support = precision_recall_fscore_support(y, p, average=None, zero_division=0)
    return {
        "micro_f1": float(f1_score(y, p, average="micro", zero_division=0)),
        "macro_f1": float(np.mean(f1[present])) if present else 0.0,
        "samples_f1": float(f1_score(y, p, average="samples", zero_division=0)),
        "hamming_loss": float(hamming_loss(y, p)),
        "accuracy": float((y == p).all(axis=1).mean()) if len(y) else 0.0,
        "per_class": {
            str(label): {"precision": float(a), "recall": float(b), "f1": float(c), "support": int(s)}
            for label, a, b, c, s in zip(classes, precision, recall, f1, support, strict=True)
        },
        "n_eval": len(y),
    }


def multilabel_folds(n: int, *, seed: int = 42, max_folds: int = 5, cv_below: int = 1000,
                     holdout: float = 0.2) -> list[Split]:
    """k-fold CV below ``cv_below`` answers (the threshold is chosen on these folds: a 40-answer hold-out of
    200 answers is too few for 19 labels; one-vs-rest heads on embeddings fit in milliseconds), else a hold-out."""
    indices = np.arange(n)
    if n < cv_below:
        splitter = KFold(n_splits=int(min(max_folds, n)), shuffle=True, random_state=seed)
        return [Split(train, test) for train, test in splitter.split(indices)]
    train, test = train_test_split(indices, test_size=holdout, random_state=seed)
    return [Split(np.sort(train), np.sort(test))]


def cross_validate_and_fit(embeddings: np.ndarray, label_sets: Sequence[Sequence[str]], classes: Sequence[str], *,
                           seed: int = 42, splits: list[Split] | None = None) -> tuple[dict[str, Any], OneVsRestHead]:
    """Out-of-fold probabilities → the threshold with the best micro-F1 (predictions capped at the largest answer's
    size) → metrics at it; then the head
    fitted on every label with that threshold.  ``splits``: given ones instead of :func:`multilabel_folds`
    (e.g. the answers a fine-tuned body never saw)."""
    splits = splits or multilabel_folds(len(label_sets), seed=seed)
    probabilities = np.zeros((len(label_sets), len(classes)))
    for split in splits:
        head = OneVsRestHead(classes).fit(embeddings[split.train], [label_sets[i] for i in split.train], seed=seed)
        probabilities[split.test] = head.predict_proba(embeddings[split.test])
    tested = np.concatenate([s.test for s in splits])
    truth = [label_sets[i] for i in tested]
    min_labels = 1 if all(len(s) > 0 for s in label_sets) else 0
    max_labels = largest_answer(label_sets)

    def micro(threshold: float) -> float:
        predicted = decide(probabilities[tested], classes, threshold, min_labels, max_labels)
        return float(f1_score(binarize(truth, classes), binarize(predicted, classes), average="micro",
                              zero_division=0))

    threshold = max(THRESHOLDS, key=lambda t: (micro(t), -abs(t - 0.5)))
    metrics = multilabel_metrics(truth, decide(probabilities[tested], classes, threshold, min_labels, max_labels),
                                 classes)
    metrics["protocol"] = f"{len(splits)}-fold cv" if len(splits) > 1 else "hold-out"
    metrics["threshold"] = threshold
    head = OneVsRestHead(classes, threshold=threshold).fit(embeddings, label_sets, seed=seed)
    return metrics, head


def ready_labels(per_label: dict[str, int], labels: Sequence[str], min_per_label: int) -> list[str]:
    """The question's labels that have at least ``min_per_label`` positive answers."""
    return [label for label in labels if per_label.get(label, 0) >= min_per_label]
