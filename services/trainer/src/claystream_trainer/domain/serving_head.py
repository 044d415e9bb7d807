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

from claystream_trainer.domain.student import PoolStudent, count_rows

Component = Literal["embedding", "student"]


@dataclass
class ServingHead:
    embedding_head: Any  # sklearn classifier on the body's embeddings
    student: PoolStudent | None = None
    serves: Component = "embedding"

    @property
    def classes_(self) -> np.ndarray:
        return self.embedding_head.classes_

    def component(self, wanted: Component | None = None) -> Component:
        choice = wanted or self.serves
        return "student" if choice == "student" and self.student is not None else "embedding"

    def needs_vectors(self, wanted: Component | None = None) -> bool:
        return self.component(wanted) == "embedding"

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """The embedding head alone (what a fine-tune compares bodies with)."""
        return self.embedding_head.predict_proba(vectors)

    def probabilities(self, *, texts: Sequence[str] | None = None, counts: sp.csr_matrix | None = None,
                      vectors: np.ndarray | None = None, wanted: Component | None = None) -> np.ndarray:
        """Class probabilities in ``classes_`` order from the serving component: the student reads texts
        (or their hashed count rows), the embedding head reads vectors."""
        if self.component(wanted) == "student":
            assert self.student is not None
            if counts is None:
                assert texts is not None, "the student needs the texts or their count rows"
                counts = count_rows(texts)
            raw = self.student.predict_proba_rows(self.student.vocabulary.weigh(counts))
            return align(self.student.classes_, raw, self.classes_)
        assert vectors is not None, "the embedding head needs vectors"
        return self.embedding_head.predict_proba(vectors)


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


def as_serving_head(head: Any) -> ServingHead:
    return head if isinstance(head, ServingHead) else ServingHead(embedding_head=head)
