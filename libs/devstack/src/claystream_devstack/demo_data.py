"""Samples of the shared datasets (../shared/data, read in place) for the demo, with a fixed seed."""

from __future__ import annotations

import functools
import gzip
import json
import os
import random
from pathlib import Path
from typing import Any

Row = dict[str, Any]


def data_dir() -> Path:
    """``$CLAYSTREAM_SHARED_DATA``, else ``../shared/data`` beside the checkout (no pytest import here)."""
    env = os.environ.get("CLAYSTREAM_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[4].parent / "shared" / "data"


@functools.lru_cache(maxsize=4)
def _read(path: Path) -> list[Row]:
    """Every row of one file (cached: the demo samples the same files several times; treat rows as read-only)."""
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: set CLAYSTREAM_SHARED_DATA to the folder holding imdb/ and rt_polarity/")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def sample(relative: str, count: int, *, seed: int = 42, exclude: set[str] | None = None) -> list[Row]:
    """``count`` rows of ``<data>/<relative>`` chosen with ``random.Random(seed)`` (``exclude``: ids to skip)."""
    rows = _read(data_dir() / relative)
    if exclude:
        rows = [row for row in rows if str(row["id"]) not in exclude]
    return random.Random(seed).sample(rows, min(count, len(rows)))


def balanced(relative: str, count: int, *, seed: int = 42, exclude: set[str] | None = None) -> list[Row]:
    """Like :func:`sample` but with the labels interleaved, so every prefix has both classes."""
    rows = [row for row in _read(data_dir() / relative) if not exclude or str(row["id"]) not in exclude]
    random.Random(seed).shuffle(rows)
    by_label: dict[str, list[Row]] = {}
    for row in rows:
        by_label.setdefault(str(row["label"]), []).append(row)
    out: list[Row] = []
    queues = [iter(v) for _, v in sorted(by_label.items())]
    while len(out) < count and queues:
        for queue in list(queues):
            row = next(queue, None)
            if row is None:
                queues.remove(queue)
            elif len(out) < count:
                out.append(row)
    return out


def unlabelled_imdb(count: int, seed: int = 42) -> list[Row]:
    """The walkthrough's import: ``count`` random unlabelled IMDb reviews (the "unsupervised" split)."""
    return sample("imdb/unsup.jsonl.gz", count, seed=seed)


def clear_cache() -> None:
    _read.cache_clear()
