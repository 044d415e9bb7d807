"""Embedding cache on disk, keyed by (dataset, body key, record id), with an in-memory index.

Append-only ``.npz`` shards under ``<models_dir>/cache/<workspace>/<dataset>/<body_key>/``:
each embedding batch writes one shard (ids + float32 matrix); a fresh process loads every shard
once (later shards win).  The body key names the model body and the chunking, so a fine-tuned
champion gets its own cache and the old one is simply left behind.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from claystream_trainer.domain.ports import DatasetKey


class FileEmbeddingCache:
    def __init__(self, models_dir: Path) -> None:
        self._root = Path(models_dir) / "cache"
        self._index: dict[tuple[DatasetKey, str], dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    def _dir(self, dataset: DatasetKey, body_key: str) -> Path:
        return self._root / dataset.workspace / dataset.dataset / body_key

    def _loaded(self, dataset: DatasetKey, body_key: str) -> dict[str, np.ndarray]:
        key = (dataset, body_key)
        with self._lock:
            index = self._index.get(key)
            if index is None:
                index = {}
                folder = self._dir(dataset, body_key)
                for shard in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
                    try:
                        with np.load(shard, allow_pickle=False) as data:
                            index.update(zip(data["ids"].tolist(), data["vectors"], strict=True))
                    except (OSError, ValueError, KeyError):
                        continue  # a torn shard from a crash: those records are simply embedded again
                self._index[key] = index
            return index

    def get_many(self, dataset: DatasetKey, body_key: str, record_ids: Sequence[str]) -> dict[str, np.ndarray]:
        index = self._loaded(dataset, body_key)
        return {r: index[r] for r in record_ids if r in index}

    def drop_dataset(self, dataset: DatasetKey) -> None:
        """Every body's shards of the dataset, on disk and in memory."""
        with self._lock:
            for key in [k for k in self._index if k[0] == dataset]:
                del self._index[key]
            shutil.rmtree(self._root / dataset.workspace / dataset.dataset, ignore_errors=True)

    def put_many(self, dataset: DatasetKey, body_key: str, record_ids: Sequence[str], vectors: np.ndarray) -> None:
        if len(record_ids) == 0:
            return
        index = self._loaded(dataset, body_key)
        folder = self._dir(dataset, body_key)
        folder.mkdir(parents=True, exist_ok=True)
        vectors = np.asarray(vectors, dtype=np.float32)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"  # sorts in write order
        tmp = folder / f".{name}.tmp.npz"
        np.savez(tmp, ids=np.asarray(list(record_ids)), vectors=vectors)
        tmp.rename(folder / f"{name}.npz")
        with self._lock:
            index.update(zip(record_ids, vectors, strict=True))
