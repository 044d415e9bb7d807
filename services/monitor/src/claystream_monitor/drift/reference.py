"""What "normal" looks like for one model version: built from its first window after promotion
(or its validation data), frozen, and stored so a restart does not forget it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from claystream_monitor.drift.text import build_vocabulary, oov_share, tokenize

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class Observation:
    """One production prediction as the checks see it."""

    request_id: str
    label: str
    score: float
    text: str
    labels: tuple[str, ...] | None = None  # a multi-label model's predicted labels (``label``: the top one)


def confidence(scores: dict[str, float], label: str) -> float:
    """The model's confidence in what it predicted (its top score; NaN when it sent none)."""
    if not scores:
        return float("nan")
    return float(scores.get(label, max(scores.values())))


@dataclass(frozen=True)
class Reference:
    source: str
    size: int
    label_counts: dict[str, int]
    scores: np.ndarray
    lengths: np.ndarray
    vocabulary: frozenset[str]
    oov_baseline: np.ndarray
    low_confidence_hits: int
    embeddings: np.ndarray | None
    created_at: datetime
    label_rates: dict[str, int] | None = None  # multi-label models: how many reference predictions carry each label

    def to_document(self) -> dict[str, Any]:
        document = {
            "source": self.source,
            "size": self.size,
            "label_names": list(self.label_counts),
            "label_values": list(self.label_counts.values()),
            "scores": self.scores.astype(float).tolist(),
            "lengths": self.lengths.astype(float).tolist(),
            "vocabulary": sorted(self.vocabulary),
            "oov_baseline": self.oov_baseline.astype(float).tolist(),
            "low_confidence_hits": self.low_confidence_hits,
            "embeddings": None if self.embeddings is None else self.embeddings.astype(np.float32).tobytes(),
            "embedding_dim": None if self.embeddings is None else int(self.embeddings.shape[1]),
            "created_at": self.created_at,
        }
        if self.label_rates is not None:
            document["label_rate_names"] = list(self.label_rates)
            document["label_rate_values"] = list(self.label_rates.values())
        return document

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Reference:
        embeddings = None
        if doc.get("embeddings") is not None and doc.get("embedding_dim"):
            embeddings = np.frombuffer(bytes(doc["embeddings"]), dtype=np.float32).reshape(-1, int(doc["embedding_dim"]))
        return cls(
            source=doc["source"],
            size=int(doc["size"]),
            label_counts=dict(zip(doc["label_names"], (int(v) for v in doc["label_values"]), strict=True)),
            scores=np.asarray(doc["scores"], float),
            lengths=np.asarray(doc["lengths"], float),
            vocabulary=frozenset(doc["vocabulary"]),
            oov_baseline=np.asarray(doc["oov_baseline"], float),
            low_confidence_hits=int(doc["low_confidence_hits"]),
            embeddings=embeddings,
            created_at=doc["created_at"],
            label_rates=dict(zip(doc["label_rate_names"], (int(v) for v in doc["label_rate_values"]), strict=True))
            if doc.get("label_rate_names") is not None else None,
        )


def build_reference(
    observations: Sequence[Observation],
    *,
    source: str,
    low_confidence: float,
    embed: Embed | None,
    embedding_sample: int,
    seed: int = 0,
) -> Reference:
    """Freeze a reference.  The vocabulary comes from one half of the texts and the out-of-vocabulary
    baseline from the other half, so the baseline is an honest "new text vs this vocabulary" share."""
    token_lists = [tokenize(o.text) for o in observations]
    half = max(1, len(observations) // 2)
    vocabulary = build_vocabulary(token_lists[:half])
    oov_baseline = np.array([oov_share(tokens, vocabulary) for tokens in token_lists[half:]] or [0.0])
    scores = np.array([o.score for o in observations], float)
    embeddings = None
    if embed is not None and embedding_sample > 0:
        rng = np.random.default_rng(seed)
        picked = rng.choice(len(observations), size=min(embedding_sample, len(observations)), replace=False)
        embeddings = np.asarray(embed([observations[int(i)].text for i in sorted(picked)]), np.float32)
    return Reference(
        source=source,
        size=len(observations),
        label_counts=dict(Counter(o.label for o in observations)),
        scores=scores[~np.isnan(scores)],
        lengths=np.array([len(tokens) for tokens in token_lists], float),
        vocabulary=vocabulary,
        oov_baseline=oov_baseline,
        low_confidence_hits=int(np.sum(scores < low_confidence)),
        embeddings=embeddings,
        created_at=datetime.now(UTC),
        label_rates=label_set_counts(observations),
    )


def label_set_counts(observations: Sequence[Observation]) -> dict[str, int] | None:
    """How many predictions carry each label; None unless every prediction came with its label set."""
    if not observations or any(o.labels is None for o in observations):
        return None
    return dict(Counter(label for o in observations for label in o.labels or ()))
