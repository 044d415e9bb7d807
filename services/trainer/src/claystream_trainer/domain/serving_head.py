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


def as_serving_head(head: Any) -> ServingHead:
    return head if isinstance(head, ServingHead) else ServingHead(embedding_head=head)
