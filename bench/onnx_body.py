"""The predict body on ONNX Runtime vs PyTorch: accuracy on an IMDb sample and embedding throughput.

Embeds a sample of IMDb train reviews (head training) and test reviews (evaluation) with the PyTorch
MiniLM, its ONNX export (fp32) and the int8 dynamic quantisation; trains the same logistic-regression
head on each body's train vectors and prints test accuracy and texts/s (batches of 32, one process,
the trainer's thread count).  int8 is served only when its accuracy is within 0.5 points of fp32.

    .venv/bin/python bench/onnx_body.py [--train 1000] [--test 1000]

Last line: ``{"fp32_accuracy": ..., "int8_accuracy": ..., "int8_accuracy_delta_points": ...,
"torch_texts_per_s": ..., "onnx_fp32_texts_per_s": ..., "onnx_int8_texts_per_s": ..., "int8_holds": ..., "int8_recipe": ..., "<body>_single_p95_ms": ..., "<body>_single_p95_ms_busy": ...}``
(one-text embeds alone, and while a thread embeds batches of 32 like the trainer's background embedder).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from claystream.datasets_local import read_jsonl_gz, shared_data_dir
from claystream_trainer.adapters.onnx_body import OnnxEmbedder, int8_recipe, weights_need_reduced_range
from claystream_trainer.adapters.st_embedder import SentenceTransformerEmbedder, default_base_model_path
from sklearn.linear_model import LogisticRegression

MAX_DELTA_POINTS = 0.5


def sample(name: str, count: int, seed: int) -> list[dict[str, Any]]:
    rows = read_jsonl_gz(shared_data_dir() / "imdb" / f"{name}.jsonl.gz")
    return random.Random(seed).sample(rows, count)


def measure(embedder: Any, train: list[dict[str, Any]], test: list[dict[str, Any]]) -> tuple[float, float]:
    began = time.perf_counter()
    x_train = np.vstack([embedder.embed([r["text"] for r in train[i:i + 32]]) for i in range(0, len(train), 32)])
    x_test = np.vstack([embedder.embed([r["text"] for r in test[i:i + 32]]) for i in range(0, len(test), 32)])
    texts_per_s = (len(train) + len(test)) / (time.perf_counter() - began)
    head = LogisticRegression(max_iter=2000, C=1.0).fit(x_train, [r["label"] for r in train])
    accuracy = float((head.predict(x_test) == np.array([r["label"] for r in test])).mean())
    return accuracy, texts_per_s


def single_p95_ms(embedder: Any, texts: list[str], *, background: bool = False) -> float:
    """p95 of one-text embeds; with ``background``, while another thread embeds batches of 32 as the
    trainer's background embedder does (``embed_background`` when the body has it)."""
    stop = threading.Event()

    def churn() -> None:
        embed = getattr(embedder, "embed_background", embedder.embed)
        while not stop.is_set():
            embed(texts[:32])

    worker = threading.Thread(target=churn, daemon=True) if background else None
    if worker is not None:
        worker.start()
        time.sleep(0.2)  # let it start a batch
    durations = []
    try:
        for text in texts[:40]:
            began = time.perf_counter()
            embedder.embed([text])
            durations.append((time.perf_counter() - began) * 1000)
    finally:
        stop.set()
        if worker is not None:
            worker.join()
    return float(np.percentile(durations, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--max-seq-length", type=int, default=128)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    train, test = sample("train", args.train, 42), sample("test", args.test, 42)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (texts/s are noisy on a shared machine; "
          "accuracies are not)")
    print(f"int8 recipe here: {int8_recipe()} ("
          + ("7-bit weights: an x86 CPU without VNNI" if weights_need_reduced_range() else "8-bit weights") + ")")
    base = default_base_model_path()
    common = {"max_seq_length": args.max_seq_length, "max_chunks": 1, "batch_size": 32}
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="claystream-onnx-") as cache:
        bodies = {
            "torch": lambda: SentenceTransformerEmbedder(base, key="torch", **common),
            "onnx_fp32": lambda: OnnxEmbedder(base, key="fp32", cache_dir=Path(cache), int8=False, **common),
            "onnx_int8": lambda: OnnxEmbedder(base, key="int8", cache_dir=Path(cache), int8=True, **common),
        }
        for name, build in bodies.items():
            began = time.perf_counter()
            embedder = build()
            ready = time.perf_counter() - began
            accuracy, speed = measure(embedder, train, test)
            print(f"{name:9s}: accuracy {accuracy:.2%} on {len(test)} IMDb test reviews (head on {len(train)} train), "
                  f"{speed:,.1f} texts/s (batch 32), ready in {ready:.1f}s (export + quantisation included)")
            figures[f"{name}_accuracy"] = round(accuracy, 4)
            figures[f"{name}_texts_per_s"] = round(speed, 1)
            texts = [r["text"] for r in test]
            alone, busy = single_p95_ms(embedder, texts), single_p95_ms(embedder, texts, background=True)
            print(f"{name:9s}: one text p95 {alone:.1f} ms alone, {busy:.1f} ms while the background embedder runs")
            figures[f"{name}_single_p95_ms"] = round(alone, 1)
            figures[f"{name}_single_p95_ms_busy"] = round(busy, 1)
    delta = round((figures["onnx_int8_accuracy"] - figures["onnx_fp32_accuracy"]) * 100, 2)  # -0.5000000000000004 is -0.5
    holds = delta >= -MAX_DELTA_POINTS
    print(f"{'ok' if holds else 'MISS'}: int8 accuracy {delta:+.2f} points vs fp32 (limit -{MAX_DELTA_POINTS})")
    result = {"fp32_accuracy": figures["onnx_fp32_accuracy"], "int8_accuracy": figures["onnx_int8_accuracy"],
              "torch_accuracy": figures["torch_accuracy"], "int8_accuracy_delta_points": round(delta, 2),
              "torch_texts_per_s": figures["torch_texts_per_s"], "onnx_fp32_texts_per_s": figures["onnx_fp32_texts_per_s"],
              "onnx_int8_texts_per_s": figures["onnx_int8_texts_per_s"], "int8_holds": holds,
              "int8_recipe": int8_recipe(),
              **{k: v for k, v in figures.items() if "single_p95" in k}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
