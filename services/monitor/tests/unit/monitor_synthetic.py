"""Synthetic production traffic with known properties, for the statistics and engine tests."""

from __future__ import annotations

import functools
import zlib

import numpy as np
from claystream_monitor.drift.reference import Observation

WORDS_A = [f"alpha{i}" for i in range(400)]
WORDS_B = [f"beta{i}" for i in range(400)]


def stream(
    n: int, *, seed: int, positive: float = 0.5, words: list[str] = WORDS_A, length: tuple[int, int] = (20, 60),
    score_a: float = 6.0, start: int = 0,
) -> list[Observation]:
    """``n`` predictions: labels with P(positive), confidence ~ 0.5 + Beta(score_a, 2) / 2, texts of random words."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, len(words) + 1)
    zipf /= zipf.sum()
    out = []
    for i in range(n):
        label = "positive" if rng.random() < positive else "negative"
        size = int(rng.integers(*length))
        text = " ".join(rng.choice(words, size=size, p=zipf))
        score = 0.5 + rng.beta(score_a, 2.0) / 2
        out.append(Observation(request_id=f"r{seed}-{start + i}", label=label, score=float(score), text=text))
    return out


@functools.cache
def _word_vector(word: str, dim: int) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(word.encode())).standard_normal(dim).astype(np.float32)


def word_vector_embed(texts: list[str], dim: int = 32) -> np.ndarray:
    """A deterministic bag-of-random-word-vectors embedder (stands in for MiniLM in unit tests)."""
    out = np.zeros((len(texts), dim), np.float32)
    for row, text in enumerate(texts):
        for word in text.split():
            out[row] += _word_vector(word, dim)
        norm = np.linalg.norm(out[row])
        if norm:
            out[row] /= norm
    return out
