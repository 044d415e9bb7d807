"""The demo's data, sampled with a fixed seed: the full shared data when present, else the packaged sample.

Every dataset file is named by its path relative to a data folder (``imdb/train.jsonl.gz``).  It is read
from ``$CLAYSTREAM_SHARED_DATA`` or ``../shared/data`` beside the checkout when that file exists there,
otherwise from the small sample shipped in this package (``sample_data/``, see its ``PROVENANCE.md``), so
the run command works from the repository alone.  A new demo dataset only adds its files to the sample.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import random
from pathlib import Path
from typing import Any

Row = dict[str, Any]
SAMPLE_DIR = Path(__file__).resolve().parent / "sample_data"


def data_dir() -> Path:
    """``$CLAYSTREAM_SHARED_DATA``, else ``../shared/data`` beside the checkout (no pytest import here)."""
    env = os.environ.get("CLAYSTREAM_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[4].parent / "shared" / "data"


def source_path(relative: str) -> Path:
    """Where ``relative`` is read from: the shared data folder when it has the file, else the packaged sample."""
    for folder in (data_dir(), SAMPLE_DIR):
        if (folder / relative).is_file():
            return folder / relative
    raise FileNotFoundError(f"{relative} is neither in {data_dir()} (CLAYSTREAM_SHARED_DATA) "
                            f"nor in the packaged sample {SAMPLE_DIR}")


def describe_source(relative: str) -> str:
    """``"shared data"`` or ``"packaged sample"``: what the demo prints next to what it imported."""
    return "packaged sample" if source_path(relative).is_relative_to(SAMPLE_DIR) else "shared data"


@functools.lru_cache(maxsize=8)
def _read(path: Path) -> list[Row]:
    """Every row of one file (cached: the demo samples the same files several times; treat rows as read-only)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def rows_of(relative: str) -> list[Row]:
    return _read(source_path(relative))


def sample(relative: str, count: int, *, seed: int = 42, exclude: set[str] | None = None) -> list[Row]:
    """``count`` rows of ``relative`` chosen with ``random.Random(seed)`` (``exclude``: ids to skip)."""
    rows = rows_of(relative)
    if exclude:
        rows = [row for row in rows if str(row["id"]) not in exclude]
    return random.Random(seed).sample(rows, min(count, len(rows)))


def balanced(relative: str, count: int, *, seed: int = 42, exclude: set[str] | None = None) -> list[Row]:
    """Like :func:`sample` but with the labels interleaved, so every prefix has both classes."""
    rows = [row for row in rows_of(relative) if not exclude or str(row["id"]) not in exclude]
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


UNLABELLED_IMDB = "imdb/unsup.jsonl.gz"


def unlabelled_imdb(count: int, seed: int = 42) -> list[Row]:
    """The walkthrough's import: ``count`` random unlabelled IMDb reviews (the "unsupervised" split), the very rows
    of the README's ``load_imdb("unsupervised").shuffle(seed=42).select(range(100))`` (Hugging Face's shuffle is a
    ``numpy.random.default_rng(seed)`` permutation), so running that line re-sends what the demo imported."""
    import numpy as np

    rows = rows_of(UNLABELLED_IMDB)
    order = np.random.default_rng(seed).permutation(len(rows))[:count]
    return [rows[int(i)] for i in order]


def clear_cache() -> None:
    _read.cache_clear()
