"""The shared datasets beside the checkout (``../shared/data``), as ``datasets.Dataset`` (IMDb falls back to the
demo's packaged sample when there is no shared data).

``load_imdb("unsupervised").shuffle(seed=42).select(range(100))`` is the offline twin of
``load_dataset("imdb", split="unsupervised").shuffle(seed=42).select(range(100))``.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

SPLITS = {"unsupervised": "unsup", "unsup": "unsup", "train": "train", "test": "test"}


def shared_data_dir() -> Path:
    """``$CLAYSTREAM_SHARED_DATA``, else the first ``shared/data`` found beside the working directory or above it."""
    env = os.environ.get("CLAYSTREAM_SHARED_DATA")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        for candidate in (folder / "shared" / "data", folder.parent / "shared" / "data"):
            if candidate.is_dir():
                return candidate
    raise FileNotFoundError("shared data not found: set CLAYSTREAM_SHARED_DATA to the folder holding imdb/")


def read_jsonl_gz(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_imdb(split: str = "unsupervised", data_dir: str | Path | None = None) -> Any:
    """IMDb reviews (``id``, ``text``; ``label``, ``rating`` in train/test) from ``imdb/<split>.jsonl.gz``."""
    from datasets import Dataset

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    relative = f"imdb/{SPLITS[split]}.jsonl.gz"
    if data_dir:
        return Dataset.from_list(read_jsonl_gz(Path(data_dir) / f"{SPLITS[split]}.jsonl.gz"))
    return Dataset.from_list(read_jsonl_gz(_shared_or_sample(relative)))


def _shared_or_sample(relative: str) -> Path:
    """The shared data's file when there is one, else the small sample the demo ships (a repository clone
    has no ``../shared``; the sample is package data of ``claystream_devstack``, installed with the repo)."""
    try:
        path = shared_data_dir() / relative
        if path.is_file():
            return path
    except FileNotFoundError:
        pass
    try:
        from claystream_devstack.demo_data import source_path
    except ImportError:
        raise FileNotFoundError(f"{relative}: no shared data (set CLAYSTREAM_SHARED_DATA) and no packaged sample") from None
    return source_path(relative)
