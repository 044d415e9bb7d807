"""The in-memory cosine index: exact top-k against a brute-force reference, in-place updates and removals."""

from __future__ import annotations

import numpy as np
from claystream_annotate.services.vector_matrix import VectorMatrix


def brute_force(vectors: dict[str, np.ndarray], query: np.ndarray, k: int) -> list[str]:
    scores = {r: float(v @ query / (np.linalg.norm(v) * np.linalg.norm(query))) for r, v in vectors.items()}
    return sorted(scores, key=lambda r: -scores[r])[:k]


def test_top_k_is_the_exact_cosine_ranking_and_survives_growth_updates_and_removals() -> None:
    rng = np.random.default_rng(7)
    vectors = {f"r{i}": rng.normal(size=16).astype(np.float32) for i in range(3000)}
    matrix = VectorMatrix(16, capacity=8)  # grows several times
    matrix.upsert(vectors.items())
    query = rng.normal(size=16)
    assert [r for r, _ in matrix.ranked(query, 10)] == brute_force(vectors, query, 10)
    vectors["r5"] = query * 3  # replaced in place: now the best match, score 1
    matrix.upsert([("r5", vectors["r5"])])
    removed = [f"r{i}" for i in range(100, 400)]
    matrix.remove([*removed, "never-there"])
    for r in removed:
        del vectors[r]
    best = matrix.ranked(query, 10)
    assert [r for r, _ in best] == brute_force(vectors, query, 10) and best[0][0] == "r5"
    assert abs(best[0][1] - 1.0) < 1e-5 and len(matrix) == len(vectors)
    assert all(r not in matrix for r in removed) and np.allclose(matrix.vector_of("r7"), vectors["r7"] / np.linalg.norm(vectors["r7"]))


def test_wrong_sized_rows_are_refused_and_asking_for_more_than_there_is_returns_all() -> None:
    matrix = VectorMatrix(3)
    matrix.upsert([("a", [1, 0, 0]), ("b", [0, 1, 0]), ("bad", [1, 2])])
    assert "bad" not in matrix
    assert [r for r, _ in matrix.ranked([1, 0.1, 0], 10)] == ["a", "b"]
    assert VectorMatrix(3).ranked([1, 0, 0], 5) == []
