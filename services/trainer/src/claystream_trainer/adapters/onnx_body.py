"""The predict body on ONNX Runtime: the same MiniLM (mean pooling, normalised), exported offline once per
body version and dynamically quantised to int8 (docs/PERFORMANCE.md has the accuracy check on IMDb).

* Recipe (``EXPORT_RECIPE``, part of the digest and of the body key): eager attention, because the SDPA
  export masks every attention score with ``IsNaN``/``Where`` (a fifth of the forward pass at 128 tokens);
  int8 weights per output channel, whose vectors stay near fp32 (cosine ~0.99; per tensor: ~0.95).  On x86
  without an int8 dot-product instruction (VNNI), 7-bit weights (``int8_recipe``: "-r7"): there ONNX Runtime
  multiplies u8 activations by s8 weights with ``VPMADDUBSW``, whose 16-bit pair sums saturate.
* Export: the sentence-transformers directory's transformer is exported with ``torch.onnx`` (no hub: the
  local directory only) to ``<cache_dir>/<digest>/body[-unpadded][.int8].onnx``; the digest names the body
  directory, its weight files and the recipe, so a new body version gets its own export and a restart
  reuses it.  Training keeps PyTorch (``setfit_finetune``); only inference runs here.  ``bodies.py`` falls
  back to PyTorch when this fails.
* Two graphs of one body: with an attention mask, and without one for a share of texts that has no padding
  (reviews past 128 tokens, the usual case): adding an all-zero mask to every attention score is ~6 % of a
  pass.  Both give the same vectors (a test pins it).
* Lanes: one single-threaded ONNX Runtime run per core (``threads``), each on a share of the batch, instead
  of one run whose every operator is split over the cores: about 400 small operators a pass each pay a fork
  and a join, and a share of similar-length texts pads less.  Each lane tokenises its own share.
* Turns: predict (``embed``) goes before the background embedder (``embed_background``), which runs in
  small slices and lets a waiting predict call in between two of them instead of after its whole batch.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import logging
import os
import platform
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from claystream_trainer.adapters.st_embedder import chunk_texts, pool

log = logging.getLogger(__name__)

EXPORT_RECIPE = "eager-pc"  # change it whenever the exported graph or its quantisation changes
BACKGROUND_SLICE = 8  # texts per background forward pass: a predict call waits at most one of these
MIN_LANE = 4  # texts: a smaller share is not worth a lane of its own
INT8_DOT_PRODUCT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})  # /proc/cpuinfo names
X86 = frozenset({"x86_64", "amd64", "i386", "i686", "x86"})


def weights_need_reduced_range(machine: str | None = None, cpu_flags: frozenset[str] | None = None) -> bool:
    """True on x86 without VNNI (or when the flags cannot be read there): the u8 × s8 products of two
    neighbouring weights are summed in 16 bits and saturate; 7-bit weights cannot (ONNX Runtime's quantisation
    notes).  Measured on an AVX2-only machine, 1,000 IMDb reviews (docs/PERFORMANCE.md): 8-bit weights 0.6
    points under fp32 (minimum cosine 0.972), 7-bit ones 0.3 above (0.979), at the same speed."""
    if (machine or platform.machine()).lower() not in X86:
        return False
    flags = _cpu_flags() if cpu_flags is None else cpu_flags
    return not flags & INT8_DOT_PRODUCT_FLAGS


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return frozenset()
    return next((frozenset(line.split(":", 1)[1].split()) for line in lines if line.startswith("flags")), frozenset())


def int8_recipe() -> str:
    """The int8 export recipe on this machine: part of the digest and of the body key (its vectors differ)."""
    return f"{EXPORT_RECIPE}-r7" if weights_need_reduced_range() else EXPORT_RECIPE


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
    runtime = f"int8|{int8_recipe()}" if int8 else f"fp32|{EXPORT_RECIPE}"
    digest = hashlib.sha256(f"{model_path.resolve()}|L{max_seq_length}|{runtime}".encode())
    for weights in sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("pytorch_model.bin")):
        stat = weights.stat()
        digest.update(f"|{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def export_body(model_path: Path, target_dir: Path, *, max_seq_length: int, int8: bool) -> tuple[Path, Path]:
    """Export (and quantise) once; later calls return the cached files: the body with an attention mask, and
    the same body without one, for a share of texts with no padding (every mask 1: no masked add to compute)."""
    names = ("body", "body-unpadded")
    finals = tuple(target_dir / (f"{name}.int8.onnx" if int8 else f"{name}.onnx") for name in names)
    if all(final.exists() for final in finals):
        return finals[0], finals[1]
    target_dir.mkdir(parents=True, exist_ok=True)
    fp32 = tuple(target_dir / f"{name}.onnx" for name in names)
    if not all(path.exists() for path in fp32):
        _export_fp32(model_path, padded=fp32[0], unpadded=fp32[1])
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        reduce_range = weights_need_reduced_range()
        for source, final in zip(fp32, finals, strict=True):
            partial = target_dir / f"{final.name}.{os.getpid()}.part"
            quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8, per_channel=True,
                             reduce_range=reduce_range)
            partial.replace(final)
    return finals[0], finals[1]


def _export_fp32(model_path: Path, *, padded: Path, unpadded: Path) -> None:
    import torch
    from transformers import AutoModel

    body = AutoModel.from_pretrained(str(model_path), local_files_only=True, attn_implementation="eager").eval()
    dummy = torch.ones((2, 16), dtype=torch.long)
    for target, inputs in ((padded, ("input_ids", "attention_mask", "token_type_ids")),
                           (unpadded, ("input_ids", "token_type_ids"))):
        partial = target.with_name(f"{target.name}.{os.getpid()}.part")
        with torch.no_grad():
            torch.onnx.export(
                last_hidden_state_module(body, inputs), tuple(dummy for _ in inputs), str(partial),
                input_names=list(inputs), output_names=["last_hidden_state"],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*inputs, "last_hidden_state")},
                opset_version=17, dynamo=False,
            )
        partial.replace(target)


def last_hidden_state_module(model: Any, inputs: Sequence[str]) -> Any:
    import torch

    class LastHiddenState(torch.nn.Module):
        """Positional tensors in (``inputs``, in order), the token states out (the pooling is done in numpy)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> Any:
            return self.model(**dict(zip(inputs, tensors, strict=True))).last_hidden_state

    return LastHiddenState()


def _session(graph_path: Path, *, threads: int) -> tuple[Any, list[str]]:
    """An ONNX Runtime CPU session whose operators use ``threads`` threads, and its input names."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(graph_path), options, providers=["CPUExecutionProvider"])
    return session, [i.name for i in session.get_inputs()]


class OnnxEmbedder:
    """Same contract as ``SentenceTransformerEmbedder`` (chunked mean pooling), served by ONNX Runtime."""

    def __init__(self, model_path: str | Path, *, key: str, cache_dir: Path, max_seq_length: int, max_chunks: int,
                 batch_size: int, int8: bool = True, threads: int = 2) -> None:
        from transformers import AutoTokenizer

        path = Path(model_path)
        self.key = key
        self.model_path = str(path)
        self.int8 = int8
        self.onnx_path, self.unpadded_path = export_body(path, cache_dir / body_digest(path, max_seq_length, int8),
                                                         max_seq_length=max_seq_length, int8=int8)
        self._lane_count = max(1, threads)
        self._lanes = ThreadPoolExecutor(self._lane_count, thread_name_prefix="onnx-lane")
        # keyed by "the share has no padding": the session (one thread: parallel across lanes, not inside an
        # operator) and its input names
        self._graphs = {unpadded: _session(graph_path, threads=1)
                        for unpadded, graph_path in ((False, self.onnx_path), (True, self.unpadded_path))}
        # a call too small for lanes (one text, the usual predict) would leave the other cores idle: it runs on
        # one session whose operators use every core (one text: p95 26 → 16–18 ms on 2 cores).  Only the
        # unpadded graph: one text never pads (a padded few take the lane session).
        self._wide = _session(self.unpadded_path, threads=self._lane_count) if self._lane_count > 1 else None
        self._tokenizers = [AutoTokenizer.from_pretrained(str(path), local_files_only=True)
                            for _ in range(self._lane_count)]
        self._chunker = AutoTokenizer.from_pretrained(str(path), local_files_only=True)  # used under _chunking
        self._chunking = threading.Lock()
        self._max_length = max_seq_length
        self._size = max_seq_length - 2
        self._chunks = max_chunks
        self._batch = batch_size
        self._turns = Turns()
        self.dimension = int(self._graphs[False][0].get_outputs()[0].shape[-1] or 0) or self._probe_dimension()

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
        with self._chunking:
            pieces, counts = chunk_texts(self._chunker, texts, size=self._size, max_chunks=self._chunks)
        order = np.argsort([len(p) for p in pieces], kind="stable")  # similar lengths share a batch: less padding
        vectors = np.empty((len(pieces), self.dimension), dtype=np.float32)
        step = BACKGROUND_SLICE if background else self._batch
        for start in range(0, len(pieces), step):
            positions = order[start:start + step]
            with self._turns.turn(background=background):
                vectors[positions] = self._forward([pieces[i] for i in positions])
        return pool(vectors, counts)

    def _forward(self, pieces: list[str]) -> np.ndarray:
        """``pieces`` in lanes: lane i tokenises its share with its own tokenizer (a fast tokenizer is not safe
        to call from two threads at once; forward passes take turns, so lane i is only ever one thread)."""
        lanes = min(self._lane_count, max(1, len(pieces) // MIN_LANE))
        if lanes == 1:
            return self._run_share(0, pieces, wide=True)
        bounds = np.linspace(0, len(pieces), lanes + 1).round().astype(int)
        shares = [pieces[a:b] for a, b in itertools.pairwise(bounds)]
        return np.vstack(list(self._lanes.map(self._run_share, range(lanes), shares)))

    def _run_share(self, lane: int, pieces: list[str], *, wide: bool = False) -> np.ndarray:
        """One lane: its texts tokenised (padded to its own longest), run, mean-pooled and normalised.
        ``wide``: the only share of the call, unpadded, runs on the session that uses every core."""
        encoded = self._tokenizers[lane](pieces, padding=True, truncation=True, max_length=self._max_length,
                                         return_tensors="np")
        unpadded = bool(encoded["attention_mask"].all())
        session, input_names = self._wide if wide and unpadded and self._wide is not None else self._graphs[unpadded]
        feeds = {name: (encoded[name] if name in encoded else np.zeros_like(encoded["input_ids"])).astype(np.int64)
                 for name in input_names}  # token_type_ids: zeros when the tokenizer gives none
        hidden = session.run(["last_hidden_state"], feeds)[0]
        weights = encoded["attention_mask"].astype(np.float32)
        summed = np.einsum("btd,bt->bd", hidden, weights) / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
        return summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)
