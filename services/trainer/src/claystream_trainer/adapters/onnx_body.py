"""The predict body on ONNX Runtime: the same MiniLM (mean pooling, normalised), exported offline once per
body version and dynamically quantised to int8 (docs/PERFORMANCE.md has the accuracy check on IMDb).

* Export: the sentence-transformers directory's transformer is exported with ``torch.onnx`` (no hub: the
  local directory only) to ``<cache_dir>/<digest>/body[.int8].onnx``; the digest names the body directory
  and its weight files, so a new body version gets its own export and a restart reuses it.  Training keeps
  PyTorch (``setfit_finetune``); only inference runs here.  ``bodies.py`` falls back to PyTorch when this fails.
* Turns: predict (``embed``) goes before the background embedder (``embed_background``), which runs in
  small slices and lets a waiting predict call in between two of them instead of after its whole batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from claystream_trainer.adapters.st_embedder import chunk_texts, pool

log = logging.getLogger(__name__)

BACKGROUND_SLICE = 8  # texts per background forward pass: a predict call waits at most one of these


class Turns:
    """One forward pass at a time; waiting foreground calls go before background ones."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._busy = False
        self._foreground_waiting = 0
        self.background_waiting = 0  # observed by tests

    @property
    def foreground_waiting(self) -> int:
        return self._foreground_waiting

    @contextlib.contextmanager
    def turn(self, *, background: bool) -> Iterator[None]:
        with self._condition:
            if background:
                self.background_waiting += 1
            else:
                self._foreground_waiting += 1
            try:
                while self._busy or (background and self._foreground_waiting):
                    self._condition.wait()
            finally:
                if background:
                    self.background_waiting -= 1
                else:
                    self._foreground_waiting -= 1
            self._busy = True
        try:
            yield
        finally:
            with self._condition:
                self._busy = False
                self._condition.notify_all()


def body_digest(model_path: Path, max_seq_length: int, int8: bool) -> str:
    """Names one body version: its directory and the size and mtime of its weight files."""
    digest = hashlib.sha256(f"{model_path.resolve()}|L{max_seq_length}|{'int8' if int8 else 'fp32'}".encode())
    for weights in sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("pytorch_model.bin")):
        stat = weights.stat()
        digest.update(f"|{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def export_body(model_path: Path, target_dir: Path, *, max_seq_length: int, int8: bool) -> Path:
    """Export (and quantise) once; later calls return the cached file."""
    final = target_dir / ("body.int8.onnx" if int8 else "body.onnx")
    if final.exists():
        return final
    import torch
    from transformers import AutoModel

    target_dir.mkdir(parents=True, exist_ok=True)
    fp32 = target_dir / "body.onnx"
    if not fp32.exists():
        model = last_hidden_state_module(AutoModel.from_pretrained(str(model_path), local_files_only=True)).eval()
        dummy = torch.ones((2, 16), dtype=torch.long)
        partial = target_dir / f"body.onnx.{os.getpid()}.part"
        with torch.no_grad():
            torch.onnx.export(
                model, (dummy, dummy, torch.zeros_like(dummy)), str(partial),
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in
                              ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
                opset_version=17, dynamo=False,
            )
        partial.replace(fp32)
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        partial = target_dir / f"body.int8.onnx.{os.getpid()}.part"
        quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8)
        partial.replace(final)
    return final


def last_hidden_state_module(model: Any) -> Any:
    import torch

    class LastHiddenState(torch.nn.Module):
        """Keyword arguments in, the token states out (the pooling is done in numpy)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    return LastHiddenState()


class OnnxEmbedder:
    """Same contract as ``SentenceTransformerEmbedder`` (chunked mean pooling), served by ONNX Runtime."""

    def __init__(self, model_path: str | Path, *, key: str, cache_dir: Path, max_seq_length: int, max_chunks: int,
                 batch_size: int, int8: bool = True, threads: int = 2) -> None:
        import onnxruntime
        from transformers import AutoTokenizer

        path = Path(model_path)
        self.key = key
        self.model_path = str(path)
        self.int8 = int8
        self.onnx_path = export_body(path, cache_dir / body_digest(path, max_seq_length, int8),
                                     max_seq_length=max_seq_length, int8=int8)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._max_length = max_seq_length
        self._size = max_seq_length - 2
        self._chunks = max_chunks
        self._batch = batch_size
        self._turns = Turns()
        self.dimension = int(self._session.get_outputs()[0].shape[-1] or 0) or self._probe_dimension()

    def _probe_dimension(self) -> int:
        return int(self._forward(["x"]).shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Predict's call: goes before any waiting background slice."""
        return self._embed(texts, background=False)

    def embed_background(self, texts: Sequence[str]) -> np.ndarray:
        """The background embedder's call: slices of ``BACKGROUND_SLICE`` texts, each yielding to predict."""
        return self._embed(texts, background=True)

    def _embed(self, texts: Sequence[str], *, background: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        pieces, counts = chunk_texts(self._tokenizer, texts, size=self._size, max_chunks=self._chunks)
        order = np.argsort([len(p) for p in pieces], kind="stable")  # similar lengths share a batch: less padding
        vectors = np.empty((len(pieces), self.dimension), dtype=np.float32)
        step = BACKGROUND_SLICE if background else self._batch
        for start in range(0, len(pieces), step):
            positions = order[start:start + step]
            with self._turns.turn(background=background):
                vectors[positions] = self._forward([pieces[i] for i in positions])
        return pool(vectors, counts)

    def _forward(self, pieces: list[str]) -> np.ndarray:
        encoded = self._tokenizer(pieces, padding=True, truncation=True, max_length=self._max_length, return_tensors="np")
        feeds: dict[str, Any] = {name: encoded[name].astype(np.int64) for name in self._inputs if name in encoded}
        if "token_type_ids" in self._inputs and "token_type_ids" not in feeds:
            feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        mask = encoded["attention_mask"][..., None].astype(np.float32)
        summed = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)
