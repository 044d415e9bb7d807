"""Which embedding body a model uses: the configured base model, or a fine-tuned body from an artifact."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

from claystream_trainer.adapters.onnx_body import EXPORT_RECIPE
from claystream_trainer.adapters.st_embedder import HashingEmbedder, SentenceTransformerEmbedder
from claystream_trainer.config import TrainerSettings
from claystream_trainer.domain.ports import Embedder

log = logging.getLogger(__name__)


def body_key(settings: TrainerSettings, body_ref: str) -> str:
    if settings.embedder == "hashing":
        return f"hashing-{body_ref}"
    runtime = (f"-onnx-int8-{EXPORT_RECIPE}" if settings.onnx_int8 else "-onnx") if settings.inference_runtime == "onnx" else ""
    return f"{body_ref}-L{settings.max_seq_length}-C{settings.max_chunks}{runtime}"


class LocalBodyProvider:
    """Loads bodies lazily and keeps the few most recent in memory (each MiniLM body is ~90 MB)."""

    def __init__(self, settings: TrainerSettings, *, body_dirs: dict[str, str] | None = None, keep: int = 3) -> None:
        self._settings = settings
        self._dirs = dict(body_dirs or {})
        self._loaded: OrderedDict[str, Embedder] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def register(self, body_ref: str, directory: str) -> None:
        self._dirs[body_ref] = directory

    def forget(self, body_refs: set[str]) -> None:
        """Fine-tuned bodies of a deleted dataset (their directories are gone)."""
        with self._lock:
            for ref in body_refs - {"base"}:
                self._dirs.pop(ref, None)
                self._loaded.pop(ref, None)

    def base_path(self) -> Path:
        if self._settings.base_model_path is not None:
            return Path(self._settings.base_model_path)
        from claystream_trainer.adapters.st_embedder import default_base_model_path

        return default_base_model_path()

    def get(self, body_ref: str | None) -> Embedder:
        ref = body_ref or "base"
        with self._lock:
            if ref in self._loaded:
                self._loaded.move_to_end(ref)
                return self._loaded[ref]
            embedder = self._build(ref)
            self._loaded[ref] = embedder
            while len(self._loaded) > self._keep:
                oldest = next(iter(self._loaded))
                if oldest == "base":
                    self._loaded.move_to_end("base")
                    oldest = next(iter(self._loaded))
                self._loaded.pop(oldest)
            return embedder

    def _build(self, ref: str) -> Embedder:
        s = self._settings
        key = body_key(s, ref)
        if s.embedder == "hashing":
            return HashingEmbedder(key=key)
        path = self.base_path() if ref == "base" else self._dirs.get(ref)
        if path is None:
            raise LookupError(f"no body directory known for {ref}")
        if s.inference_runtime == "onnx":
            try:
                from claystream_trainer.adapters.onnx_body import OnnxEmbedder

                return OnnxEmbedder(path, key=key, cache_dir=Path(s.models_dir) / "onnx", max_seq_length=s.max_seq_length,
                                    max_chunks=s.max_chunks, batch_size=s.embed_batch_size, int8=s.onnx_int8,
                                    threads=s.torch_threads)
            except Exception as error:  # noqa: BLE001 - export or runtime missing: serve with PyTorch
                log.warning("ONNX body for %s unavailable, serving it with PyTorch: %r", ref, error)
                key = body_key(s.model_copy(update={"inference_runtime": "torch"}), ref)
        return SentenceTransformerEmbedder(path, key=key, max_seq_length=s.max_seq_length, max_chunks=s.max_chunks,
                                           batch_size=s.embed_batch_size, quantize=s.quantize_inference)
