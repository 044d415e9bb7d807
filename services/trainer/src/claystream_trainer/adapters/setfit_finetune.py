"""Full SetFit fine-tune of the body (contrastive pairs) with the setfit 1.x ``Trainer``, on CPU.

Runs in a worker thread (the caller uses ``asyncio.to_thread``); reports progress through a plain
callable.  Offline traps handled here: the default metric would call ``evaluate.load`` (hub) — we
never call ``Trainer.evaluate`` (evaluation is ours, on embeddings); the body is loaded from a local
directory; labels are passed as strings so nothing maps them through the hub config.  Multi-label answers
(tuples of labels) become 0/1 vectors: setfit then pairs two texts as positive when they share a label.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claystream_trainer.adapters.st_embedder import SentenceTransformerEmbedder, clean
from claystream_trainer.domain.memory import capped_batch_size, shape_of

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, float | None], None]


@dataclass(frozen=True)
class FinetuneParams:
    max_steps: int
    batch_size: int
    num_iterations: int
    max_length: int
    learning_rate: float
    memory_budget_mb: int
    seed: int
    sampling_strategy: str = "oversampling"


@dataclass(frozen=True)
class FinetuneResult:
    body_dir: str
    params: dict[str, object]
    seconds: float


class SetFitFineTuner:
    def __init__(self, base_model_path: Path, *, max_chunks: int, threads: int) -> None:
        self._base = Path(base_model_path)
        self._chunks = max_chunks
        self._threads = threads

    def finetune(self, texts: Sequence[str], labels: Sequence[str | tuple[str, ...]], params: FinetuneParams,
                 progress: ProgressFn, work_dir: str | None = None) -> FinetuneResult:
        import torch
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
        from transformers import TrainerCallback

        torch.set_num_threads(self._threads)
        started = time.perf_counter()
        config = json.loads((self._base / "config.json").read_text())
        batch = capped_batch_size(shape_of(config), wanted=params.batch_size, seq_len=params.max_length,
                                  budget_mb=params.memory_budget_mb)
        # Each long text contributes its windows as separate examples (same label): more pairs per review,
        # and the body learns from the tail, where reviews tend to give their verdict.
        splitter = SentenceTransformerEmbedder(self._base, key="finetune", max_seq_length=params.max_length,
                                               max_chunks=self._chunks, batch_size=batch)
        pieces, counts = splitter.chunk([clean(t) for t in texts])
        if any(isinstance(label, tuple) for label in labels):  # multi-label: 0/1 vectors, pairs share a label
            classes = sorted({c for label in labels for c in label})
            targets: list[Any] = [[int(c in label) for c in classes] for label in labels]
            model = SetFitModel(model_body=splitter.model, multi_target_strategy="one-vs-rest")
        else:
            targets = list(labels)
            model = SetFitModel(model_body=splitter.model, labels=sorted(set(labels)))
        piece_labels = [target for target, n in zip(targets, counts, strict=True) for _ in range(n)]
        args = TrainingArguments(
            batch_size=(batch, 16), num_epochs=(1, 1), max_steps=params.max_steps,
            num_iterations=params.num_iterations, sampling_strategy=params.sampling_strategy,
            body_learning_rate=(params.learning_rate, params.learning_rate), max_length=params.max_length,
            seed=params.seed, report_to="none", save_strategy="no", eval_strategy="no",
            logging_strategy="no", show_progress_bar=False, use_amp=False,
        )
        total = params.max_steps

        class _Progress(TrainerCallback):  # type: ignore[misc]
            def on_step_end(self, _args, state, _control, **_kwargs):  # type: ignore[no-untyped-def]
                elapsed = time.perf_counter() - started
                step = int(state.global_step)
                steps = int(state.max_steps or total)
                eta = elapsed / step * (steps - step) if step else None
                progress(step, steps, eta)

        trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": pieces, "label": piece_labels}),
                          callbacks=[_Progress()])
        trainer.train_embeddings(*trainer.dataset_to_parameters(trainer.train_dataset), args=args)
        target = Path(work_dir or tempfile.mkdtemp(prefix="claystream-body-"))
        model.model_body.save(str(target))
        seconds = time.perf_counter() - started
        used = {"max_steps": params.max_steps, "batch_size": batch, "num_iterations": params.num_iterations,
                "max_length": params.max_length, "learning_rate": params.learning_rate,
                "sampling_strategy": params.sampling_strategy, "train_windows": len(pieces),
                "memory_budget_mb": params.memory_budget_mb}
        log.info("fine-tune done in %.1fs with %s", seconds, used)
        return FinetuneResult(body_dir=str(target), params=used, seconds=seconds)
