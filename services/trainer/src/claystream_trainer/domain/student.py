"""The pool student: a lexical classifier self-trained on the dataset's pending records.

The embedding head (the *teacher*) sees only the human labels.  The pending records are a large
unlabelled pool of the very distribution the model will serve, so the teacher pseudo-labels that pool,
a TF-IDF (word 1-2 gram, hashed) logistic regression is trained on the human labels (weighted up) plus
the most confident pseudo-labels of each class, and the student then relabels the pool itself, taking a
growing share of it each round (classic self-training with a second view of the text).  Measured on
IMDb (100 labels, frozen MiniLM teacher at 0.68-0.69): the student reaches 0.73-0.81 (mean 0.76 over four
label draws) in about 1.5 s on 2 cores, and it predicts from raw text without a transformer forward pass.

Whether the student serves is decided by cross-validation on the human labels only (each fold's teacher
and student never see that fold), so a dataset where it does not help (short texts, few pending
records) keeps the embedding head.  Everything here is pure: texts, vectors and arrays in, models out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from claystream_trainer.domain.evaluation import Split, fit_head, folds, metrics_for

N_FEATURES = 2**20


def hasher() -> HashingVectorizer:
    """Stateless word 1-2 gram counts: a record's row never depends on the rest of the pool."""
    return HashingVectorizer(ngram_range=(1, 2), n_features=N_FEATURES, alternate_sign=False, norm=None,
                             dtype=np.float32)


def count_rows(texts: Sequence[str]) -> sp.csr_matrix:
    return hasher().transform(list(texts)).tocsr()


@dataclass(frozen=True)
class Vocabulary:
    """The hashed n-grams seen in at least ``min_df`` pool records, with their smoothed IDF.  Keeping only
    those columns (tens of thousands of 2**20) is what makes each logistic-regression fit cheap."""

    columns: np.ndarray
    idf: np.ndarray

    def weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear TF × IDF over the kept columns, L2-normalised rows."""
        rows = counts[:, self.columns].tocsr()
        rows.data = np.log1p(rows.data)
        return normalize((rows @ sp.diags(self.idf)).tocsr())


def fit_vocabulary(counts: sp.csr_matrix, *, min_df: int = 3) -> Vocabulary:
    n = counts.shape[0]
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    columns = np.flatnonzero(document_frequency >= min_df)
    idf = (np.log((1.0 + n) / (1.0 + document_frequency[columns])) + 1.0).astype(np.float32)
    return Vocabulary(columns=columns, idf=idf)


@dataclass(frozen=True)
class StudentConfig:
    schedule: tuple[float, ...] = (0.3, 0.45, 0.6, 0.75, 0.9, 1.0)  # share of the pool taken per round
    C: float = 30.0  # measured: 10 → 0.738, 30 → 0.763, 100 → 0.769 (mean of four IMDb draws)
    label_weight: float = 3.0  # a human label counts as three pseudo-labels
    tol: float = 1e-3  # warm-started rounds converge in ~0.2 s each at this tolerance
    min_df: int = 3
    min_pool: int = 200  # below this the pool cannot teach anything a CV could see


@dataclass
class PoolStudent:
    """Vocabulary and IDF (fitted on the pool) + logistic regression; predicts from raw text."""

    vocabulary: Vocabulary
    model: LogisticRegression
    teacher_key: str = ""  # the body whose embeddings taught it (a newer body → retrain)
    params: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, counts: sp.csr_matrix, classes: Sequence[Any]) -> np.ndarray:
        """Class probabilities (columns: ``classes``) of these hashed count rows."""
        return align(self.model.classes_, self.model.predict_proba(self.vocabulary.weigh(counts)), classes)


def _confident_share(probabilities: np.ndarray, classes: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """``share`` of the pool, split between the classes by the model's mean probability of each (its estimate
    of the class balance), each class taking the records it is most sure of; returns (row indices, labels).

    Quotas from the mean probability rather than from the argmax counts: a teacher that leans to one class
    would otherwise feed its lean back into every round (measured on IMDb: one draw in five collapsed from
    0.65 to 0.56; with these quotas the mean over seven draws went from 0.71 to 0.77)."""
    n = probabilities.shape[0]
    quotas = np.floor(share * n * probabilities.mean(axis=0)).astype(int)  # may fall a record short per class
    taken = np.zeros(n, dtype=bool)
    chosen: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for c in np.argsort(quotas, kind="stable"):  # the rarest class picks first
        order = np.argsort(-probabilities[:, c], kind="stable")
        picks = order[~taken[order]][: quotas[c]]
        taken[picks] = True
        chosen.append(picks)
        labels.append(np.full(len(picks), classes[c], dtype=object))
    if not chosen:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=object)
    return np.concatenate(chosen), np.concatenate(labels)


def self_train(labelled_rows: sp.csr_matrix, labels: Sequence[str], pool_rows: sp.csr_matrix,
               teacher_probabilities: np.ndarray, classes: Sequence[str], config: StudentConfig,
               *, seed: int = 42) -> LogisticRegression:
    """Rounds of: pseudo-label the pool (teacher first, then the student itself), keep the most confident
    share of each class, refit on human labels (weighted) + those pseudo-labels."""
    classes_array = np.asarray(list(classes))
    y = np.asarray(list(labels))
    model = LogisticRegression(C=config.C, max_iter=3000, tol=config.tol, warm_start=True, random_state=seed)
    probabilities = teacher_probabilities
    for share in config.schedule:
        index, pseudo = _confident_share(probabilities, classes_array, share)
        rows = sp.vstack([labelled_rows, pool_rows[index]]).tocsr()
        targets = np.concatenate([y, pseudo])
        weights = np.concatenate([np.full(len(y), config.label_weight), np.ones(len(index))])
        if len(set(targets)) < 2:
            break
        model.fit(rows, targets, sample_weight=weights)
        probabilities = align(model.classes_, model.predict_proba(pool_rows), classes_array)
    return model


def align(source_classes: Sequence[Any], probabilities: np.ndarray, target_classes: Sequence[Any]) -> np.ndarray:
    """Reorder probability columns to ``target_classes`` (0 for a class the source never saw)."""
    source = [str(c) for c in source_classes]
    target = [str(c) for c in target_classes]
    if source == target:
        return probabilities
    out = np.zeros((probabilities.shape[0], len(target)), dtype=probabilities.dtype)
    for j, c in enumerate(source):
        if c in target:
            out[:, target.index(c)] = probabilities[:, j]
    return out


def teacher_probabilities(teacher: Any, vectors: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    return align(teacher.classes_, teacher.predict_proba(vectors), classes)


def _taught(labelled_vectors: np.ndarray, labelled_rows: sp.csr_matrix, labels: Sequence[str], classes: Sequence[str],
            pool_vectors: np.ndarray, pool_rows: sp.csr_matrix, config: StudentConfig,
            seed: int) -> LogisticRegression:
    """An embedding head fitted on these labels teaches the pool; the student self-trains from it."""
    teacher = fit_head(labelled_vectors, list(labels), seed=seed)
    return self_train(labelled_rows, labels, pool_rows, teacher_probabilities(teacher, pool_vectors, classes),
                      classes, config, seed=seed)


def cross_validate_student(labelled_vectors: np.ndarray, labelled_rows: sp.csr_matrix, labels: Sequence[str],
                           classes: Sequence[str], pool_vectors: np.ndarray, pool_rows: sp.csr_matrix,
                           config: StudentConfig, *, seed: int = 42,
                           splits: list[Split] | None = None) -> dict[str, Any]:
    """Pooled out-of-fold predictions on the human labels, with the same folds as the embedding head's CV:
    each fold's teacher and student are trained without that fold."""
    y = np.asarray(list(labels))
    predicted = np.empty(len(y), dtype=object)
    splits = splits or folds(list(y), seed=seed)
    for split in splits:
        model = _taught(labelled_vectors[split.train], labelled_rows[split.train], list(y[split.train]), classes,
                        pool_vectors, pool_rows, config, seed)
        predicted[split.test] = model.predict(labelled_rows[split.test])
    tested = np.concatenate([s.test for s in splits])
    metrics = metrics_for(list(y[tested]), list(predicted[tested]), list(classes))
    metrics["protocol"] = f"stratified {len(splits)}-fold cv" if len(splits) > 1 else "stratified hold-out"
    return metrics


def train_student(labelled_vectors: np.ndarray, labelled_counts: sp.csr_matrix, labels: Sequence[str],
                  classes: Sequence[str], pool_vectors: np.ndarray, pool_counts: sp.csr_matrix,
                  config: StudentConfig, *, teacher_key: str, seed: int = 42,
                  splits: list[Split] | None = None) -> tuple[PoolStudent, dict[str, Any]]:
    """Cross-validate (on ``splits`` when given), then self-train on every human label; returns the student
    and its CV metrics."""
    vocabulary = fit_vocabulary(sp.vstack([pool_counts, labelled_counts]).tocsr(), min_df=config.min_df)
    labelled_rows, pool_rows = vocabulary.weigh(labelled_counts), vocabulary.weigh(pool_counts)
    metrics = cross_validate_student(labelled_vectors, labelled_rows, labels, classes, pool_vectors, pool_rows,
                                     config, seed=seed, splits=splits)
    model = _taught(labelled_vectors, labelled_rows, labels, classes, pool_vectors, pool_rows, config, seed)
    params = {"features": "hashed word 1-2 grams, sublinear tf-idf", "C": config.C,
              "schedule": list(config.schedule), "label_weight": config.label_weight, "pool": pool_rows.shape[0]}
    params["features_kept"] = len(vocabulary.columns)
    return PoolStudent(vocabulary=vocabulary, model=model, teacher_key=teacher_key, params=params), metrics


def fit_student(labelled_vectors: np.ndarray, labelled_counts: sp.csr_matrix, labels: Sequence[str],
                classes: Sequence[str], pool_vectors: np.ndarray, pool_counts: sp.csr_matrix, config: StudentConfig,
                *, teacher_key: str = "", seed: int = 42) -> PoolStudent:
    """A student taught by these labels alone (no evaluation): what a fine-tune compares with and draws from."""
    vocabulary = fit_vocabulary(sp.vstack([pool_counts, labelled_counts]).tocsr(), min_df=config.min_df)
    model = _taught(labelled_vectors, vocabulary.weigh(labelled_counts), labels, classes, pool_vectors,
                    vocabulary.weigh(pool_counts), config, seed)
    return PoolStudent(vocabulary=vocabulary, model=model, teacher_key=teacher_key)


def surest(student: PoolStudent, pool_counts: sp.csr_matrix, classes: Sequence[str],
           count: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` pool records the student is surest of (class quotas as in self-training), with its labels:
    extra training texts for a fine-tune.  Measured on IMDb (100 labels): the top 5 % of an 8,000-review
    pool came out 99 % right, and adding them lifted the fine-tuned body's head from 0.710 to 0.747."""
    if count <= 0 or pool_counts.shape[0] == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=object)
    names = np.asarray(list(classes))
    return _confident_share(student.probabilities(pool_counts, names), names, min(1.0, count / pool_counts.shape[0]))
