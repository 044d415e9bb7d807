"""Which embedding body a model uses: the configured base model, or a fine-tuned body from an artifact.

A fine-tuned body belongs to its dataset: its ``body_ref`` is the model version that trained it, and versions
restart at v1 in every dataset, so the provider names it by (dataset, body_ref) — by "v3" alone, one dataset
would be served another's weights, and deleting a dataset would drop another's body.  The base model is one
body shared by every dataset.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path

from claystream_trainer.adapters.onnx_body import int8_recipe
from claystream_trainer.adapters.st_embedder import HashingEmbedder, SentenceTransformerEmbedder
from claystream_trainer.config import TrainerSettings
from claystream_trainer.domain.ports import DatasetKey, Embedder

log = logging.getLogger(__name__)

BASE = "base"
BodyId = tuple[DatasetKey | None, str]  # (its dataset, None for the shared base model; its body_ref)
BodyLoader = Callable[[Path, str], Embedder]  # (the body's directory, its body_ref) → the loaded body
_BASE_ID: BodyId = (None, BASE)


def body_key(settings: TrainerSettings, body_ref: str) -> str:
    """The embedding cache key of a body.  Unique within a dataset only, which is enough: every embedding
    cache is kept per dataset (so keys already stored stay valid)."""
    if settings.embedder == "hashing":
        return f"hashing-{body_ref}"
    runtime = (f"-onnx-int8-{int8_recipe()}" if settings.onnx_int8 else "-onnx") if settings.inference_runtime == "onnx" else ""
    return f"{body_ref}-L{settings.max_seq_length}-C{settings.max_chunks}{runtime}"


def body_id(dataset: DatasetKey, body_ref: str | None) -> BodyId:
    """How the provider names a body: ``None`` or ``"base"`` is the shared base model; any other reference is
    a fine-tuned body of ``dataset``."""
    ref = body_ref or BASE
    return _BASE_ID if ref == BASE else (dataset, ref)


class LocalBodyProvider:
    """Loads bodies lazily and keeps the few most recent in memory (each MiniLM body is ~90 MB).

    ``load`` replaces how a body directory is loaded (tests pass a light one)."""

    def __init__(self, settings: TrainerSettings, *, keep: int = 3, load: BodyLoader | None = None) -> None:
        self._settings = settings
        self._dirs: dict[BodyId, str] = {}
        self._loaded: OrderedDict[BodyId, Embedder] = OrderedDict()
        self._keep = keep
        self._load: BodyLoader = load or partial(load_body, settings)
        self._lock = threading.Lock()

    def register(self, dataset: DatasetKey, body_ref: str, directory: str) -> None:
        with self._lock:
            self._dirs[body_id(dataset, body_ref)] = directory

    def forget(self, dataset: DatasetKey) -> None:
        """The fine-tuned bodies of a deleted dataset (their directories are gone); other datasets keep theirs."""
        with self._lock:
            for store in (self._dirs, self._loaded):
                for identity in [i for i in store if i[0] == dataset]:
                    del store[identity]

    def base_path(self) -> Path:
        if self._settings.base_model_path is not None:
            return Path(self._settings.base_model_path)
        from claystream_trainer.adapters.st_embedder import default_base_model_path

        return default_base_model_path()

    def get(self, dataset: DatasetKey, body_ref: str | None) -> Embedder:
        identity = body_id(dataset, body_ref)
        with self._lock:
            if identity in self._loaded:
                self._loaded.move_to_end(identity)
                return self._loaded[identity]
            embedder = self._build(identity)
            self._loaded[identity] = embedder
            while len(self._loaded) > self._keep:
                oldest = next(iter(self._loaded))
                if oldest == _BASE_ID:
                    self._loaded.move_to_end(_BASE_ID)
                    oldest = next(iter(self._loaded))
                self._loaded.pop(oldest)
            return embedder

    def _build(self, identity: BodyId) -> Embedder:
        dataset, ref = identity
        if self._settings.embedder == "hashing":
            return HashingEmbedder(key=body_key(self._settings, ref))
        directory = self.base_path() if identity == _BASE_ID else self._dirs.get(identity)
        if directory is None:
            raise LookupError(f"no body directory known for {ref} of {dataset}")
        return self._load(Path(directory), ref)


def load_body(settings: TrainerSettings, directory: Path, body_ref: str) -> Embedder:
    """The body in ``directory``: on ONNX Runtime when configured (PyTorch if that fails), else on PyTorch."""
    s = settings
    key = body_key(s, body_ref)
    if s.inference_runtime == "onnx":
        try:
            from claystream_trainer.adapters.onnx_body import OnnxEmbedder

            return OnnxEmbedder(directory, key=key, cache_dir=Path(s.models_dir) / "onnx", max_seq_length=s.max_seq_length,
                                max_chunks=s.max_chunks, batch_size=s.embed_batch_size, int8=s.onnx_int8,
                                threads=s.torch_threads)
        except Exception as error:  # noqa: BLE001 - export or runtime missing: serve with PyTorch
            log.warning("ONNX body for %s unavailable, serving it with PyTorch: %r", body_ref, error)
            key = body_key(s.model_copy(update={"inference_runtime": "torch"}), body_ref)
    return SentenceTransformerEmbedder(directory, key=key, max_seq_length=s.max_seq_length, max_chunks=s.max_chunks,
                                       batch_size=s.embed_batch_size, quantize=s.quantize_inference)
