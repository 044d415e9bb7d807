"""One vector field of one dataset in memory: unit-normalised float32 rows, cosine top-k by one mat-vec.

50,000 × 384 floats are 77 MB and a query is one ``matrix @ q`` (a few ms) plus ``argpartition``; rows
are replaced in place, appended (capacity doubles) and removed by moving the last row into the hole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def unit(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    """``vector`` scaled to length 1 (a zero vector stays zero: it is similar to nothing)."""
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


class VectorMatrix:
    def __init__(self, dimensions: int, *, capacity: int = 1024) -> None:
        self.dimensions = dimensions
        self._rows = np.zeros((max(capacity, 1), dimensions), dtype=np.float32)
        self._ids: list[str] = []
        self._position: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._position

    def upsert(self, items: Iterable[tuple[str, Sequence[float] | np.ndarray]]) -> None:
        for record_id, vector in items:
            row = unit(vector)
            if row.shape != (self.dimensions,):
                continue  # not this field's size (the contract validates before; never corrupt the matrix)
            position = self._position.get(record_id)
            if position is None:
                position = len(self._ids)
                if position == len(self._rows):
                    grown = np.zeros((2 * len(self._rows), self.dimensions), dtype=np.float32)
                    grown[:position] = self._rows
                    self._rows = grown
                self._ids.append(record_id)
                self._position[record_id] = position
            self._rows[position] = row

    def remove(self, record_ids: Iterable[str]) -> None:
        for record_id in record_ids:
            position = self._position.pop(record_id, None)
            if position is None:
                continue
            last = len(self._ids) - 1
            if position != last:
                moved = self._ids[last]
                self._rows[position] = self._rows[last]
                self._ids[position] = moved
                self._position[moved] = position
            self._ids.pop()

    def vector_of(self, record_id: str) -> np.ndarray | None:
        position = self._position.get(record_id)
        return None if position is None else self._rows[position].copy()

    def ranked(self, query: Sequence[float] | np.ndarray, count: int) -> list[tuple[str, float]]:
        """The ``count`` most similar rows to ``query`` (cosine), best first."""
        size = len(self._ids)
        if size == 0 or count <= 0:
            return []
        scores = self._rows[:size] @ unit(query)
        count = min(count, size)
        top = np.argpartition(-scores, count - 1)[:count] if count < size else np.arange(size)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self._ids[i], float(scores[i])) for i in top]
