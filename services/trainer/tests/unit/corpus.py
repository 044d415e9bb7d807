"""Tiny synthetic labelled corpora with obvious class words (the hashing embedder separates them)."""

from __future__ import annotations

import random

WORDS = {
    "positive": ["great", "wonderful", "loved", "superb", "brilliant"],
    "negative": ["awful", "boring", "hated", "dreadful", "terrible"],
    "LOC": ["where", "city", "country", "river", "located"],
    "HUM": ["who", "person", "inventor", "president", "author"],
    "NUM": ["how", "many", "year", "number", "much"],
}
FILLER = ["the", "movie", "a", "it", "was", "and", "plot", "of", "this", "film", "question"]


def sample(labels: list[str], n: int, *, seed: int = 0) -> list[tuple[str, str, str]]:
    """(record_id, text, label) rows, balanced over ``labels``."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = labels[i % len(labels)]
        words = rng.sample(WORDS[label], 2) + rng.sample(FILLER, 4)
        rng.shuffle(words)
        rows.append((f"r{seed}-{i}", " ".join(words), label))
    return rows
