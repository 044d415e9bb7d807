"""What a model version serves: the embedding head, or the pool student chosen over it by cross-validation.

Stored as the artifact's ``head.joblib``.  Artifacts written before the student existed hold a bare
``LogisticRegression``; :func:`as_serving_head` wraps those so every caller sees one interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from claystream_trainer.domain.multilabel import threshold_priority
from claystream_trainer.domain.student import PoolStudent, count_rows
from claystream_trainer.domain.uncertainty import margin_priority

Component = Literal["embedding", "student"]


@dataclass
class ServingHead:
    embedding_head: Any  # sklearn classifier on the body's embeddings
    student: PoolStudent | None = None
    serves: Component = "embedding"

    @property
    def multi_label(self) -> bool:
        return bool(getattr(self.embedding_head, "multi_label", False))

    @property
    def classes_(self) -> np.ndarray:
        return self.embedding_head.classes_

    def component(self, wanted: Component | None = None) -> Component:
        choice = wanted or self.serves
        return "student" if choice == "student" and self.student is not None else "embedding"

    def needs_vectors(self, wanted: Component | None = None) -> bool:
        return self.component(wanted) == "embedding"

    def probabilities(self, *, texts: Sequence[str] | None = None, counts: sp.csr_matrix | None = None,
                      vectors: np.ndarray | None = None, wanted: Component | None = None) -> np.ndarray:
        """Class probabilities in ``classes_`` order from the serving component: the student reads texts
        (or their hashed count rows), the embedding head reads vectors."""
        if self.component(wanted) == "student":
            assert self.student is not None
            if counts is None:
                assert texts is not None, "the student needs the texts or their count rows"
                counts = count_rows(texts)
            return self.student.probabilities(counts, self.classes_)
        assert vectors is not None, "the embedding head needs vectors"
        return self.embedding_head.predict_proba(vectors)


@dataclass(frozen=True)
class Decoded:
    """What a probability matrix says, per row: the label (multi-label: the list of labels), its score,
    the active-learning priority."""

    labels: list[Any]
    scores: np.ndarray
    priorities: np.ndarray


def decode(head: ServingHead, probabilities: np.ndarray) -> Decoded:
    """Single-label: the most probable class, its probability, the margin priority.  Multi-label (a one-vs-rest
    head): the labels over the head's threshold, the mean probability of those, the threshold priority."""
    inner = head.embedding_head
    if getattr(inner, "multi_label", False):
        chosen = inner.decide(probabilities)
        index = {str(c): i for i, c in enumerate(head.classes_)}
        scores = np.asarray([float(np.mean([row[index[c]] for c in labels])) if labels else 0.0
                             for row, labels in zip(probabilities, chosen, strict=True)])
        return Decoded(chosen, scores, threshold_priority(probabilities, inner.threshold))
    names = [str(c) for c in head.classes_]
    best = probabilities.argmax(axis=1)
    return Decoded([names[i] for i in best], probabilities.max(axis=1), margin_priority(probabilities))


def as_serving_head(head: Any) -> ServingHead:
    return head if isinstance(head, ServingHead) else ServingHead(embedding_head=head)
