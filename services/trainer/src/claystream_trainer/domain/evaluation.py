"""Classification heads and their evaluation (stratified hold-out, or cross-validation when labels are few).

Everything here works on embedding matrices, so it runs in milliseconds for hundreds of labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, train_test_split

HEAD_C = 4.0  # measured on IMDb (100 labels, 8 draws): C=1 → 0.669, 4 → 0.680, 16 → 0.677 (README)


def fit_head(embeddings: np.ndarray, labels: list[str], *, seed: int = 42) -> LogisticRegression:
    head = LogisticRegression(max_iter=2000, C=HEAD_C, random_state=seed)
    head.fit(embeddings, labels)
    return head


def metrics_for(y_true: list[str], y_pred: list[str], classes: list[str]) -> dict[str, Any]:
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
        },
        "confusion_matrix": {"labels": classes, "matrix": confusion_matrix(y_true, y_pred, labels=classes).tolist()},
        "n_eval": len(y_true),
    }


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    test: np.ndarray


def folds(labels: list[str], *, seed: int = 42, holdout: float = 0.2, max_folds: int = 5, cv_below: int = 200) -> list[Split]:
    """Stratified cross-validation folds below ``cv_below`` labels, else one stratified hold-out split."""
    y = np.asarray(labels)
    smallest = min(np.unique(y, return_counts=True)[1])
    if smallest < 2:
        raise ValueError("every class needs at least two examples to evaluate")
    indices = np.arange(len(y))
    if len(y) < cv_below:
        k = int(min(max_folds, smallest))
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return [Split(train, test) for train, test in splitter.split(indices, y)]
    train, test = train_test_split(indices, test_size=holdout, stratify=y, random_state=seed)
    return [Split(np.sort(train), np.sort(test))]


def holdout_split(labels: list[str], *, fraction: float, seed: int = 42) -> Split:
    """One stratified split: ``fraction`` of each class held out, at least one example of every class per side."""
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        if len(members) < 2:
            raise ValueError(f"class {label!r} needs at least two examples for a hold-out split")
        n_test = min(len(members) - 1, max(1, round(len(members) * fraction)))
        test.extend(members[:n_test].tolist())
        train.extend(members[n_test:].tolist())
    return Split(np.sort(np.asarray(train)), np.sort(np.asarray(test)))


def cross_validate(embeddings: np.ndarray, labels: list[str], classes: list[str], *, seed: int = 42,
                   splits: list[Split] | None = None) -> dict[str, Any]:
    """Pooled out-of-fold predictions of the head → one metrics dict (with the protocol named).
    ``splits``: given ones instead of :func:`folds` (e.g. the labels a fine-tuned body never saw)."""
    y = np.asarray(labels)
    predicted = np.empty(len(y), dtype=object)
    splits = splits or folds(labels, seed=seed)
    for split in splits:
        head = fit_head(embeddings[split.train], list(y[split.train]), seed=seed)
        predicted[split.test] = head.predict(embeddings[split.test])
    tested = np.concatenate([s.test for s in splits])
    metrics = metrics_for(list(y[tested]), list(predicted[tested]), classes)
    metrics["protocol"] = f"stratified {len(splits)}-fold cv" if len(splits) > 1 else "stratified hold-out"
    return metrics


def evaluate_on(head: LogisticRegression, embeddings: np.ndarray, labels: list[str], classes: list[str]) -> dict[str, Any]:
    metrics = metrics_for(labels, list(head.predict(embeddings)), classes)
    metrics["protocol"] = "stratified hold-out"
    return metrics


def better(candidate: dict[str, Any], champion: dict[str, Any] | None, *, strict: bool) -> bool:
    """Macro-F1 decides, accuracy breaks ties; ``strict`` demands a real gain."""
    if champion is None:
        return True
    key_new = (candidate.get("macro_f1", 0.0), candidate.get("accuracy", 0.0))
    key_old = (champion.get("macro_f1", 0.0), champion.get("accuracy", 0.0))
    return key_new > key_old if strict else key_new >= key_old
