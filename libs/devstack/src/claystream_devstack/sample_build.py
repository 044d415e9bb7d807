"""Rebuild the demo's packaged sample (``sample_data/``) from the full shared data (run by hand, seed fixed).

``python -m claystream_devstack.sample_build [SHARED_DATA_DIR]`` writes, for each file of
:data:`SAMPLE_PLAN`, ``count`` rows drawn with ``random.Random(42)`` — in equal parts per label when the rows
carry one — in their original order, gzipped JSON Lines like the source.  A second demo dataset adds its
files to the plan (and its provenance to ``sample_data/PROVENANCE.md``) and rebuilds.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path
from typing import Any

from claystream_devstack.demo_data import SAMPLE_DIR, data_dir

# relative path under the data folder -> rows kept (enough for the full ``--simulate`` demo)
SAMPLE_PLAN: dict[str, int] = {
    "imdb/unsup.jsonl.gz": 300,
    "imdb/train.jsonl.gz": 400,
    "imdb/test.jsonl.gz": 1600,
    "rt_polarity/sentences.jsonl.gz": 1000,
}
SEED = 42


def draw(rows: list[dict[str, Any]], count: int, *, seed: int = SEED) -> list[dict[str, Any]]:
    """``count`` rows, the same number per label when rows have a ``label`` (kept in their original order)."""
    rng = random.Random(seed)
    groups: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(str(row.get("label", "")), []).append(index)
    share, chosen = count // len(groups), []
    for _, indexes in sorted(groups.items()):
        chosen += rng.sample(indexes, min(share, len(indexes)))
    return [rows[i] for i in sorted(chosen)]


def build(source: Path, target: Path = SAMPLE_DIR) -> dict[str, int]:
    written: dict[str, int] = {}
    for relative, count in SAMPLE_PLAN.items():
        with gzip.open(source / relative, "rt", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        kept = draw(rows, count)
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        with gzip.GzipFile(out, "wb", compresslevel=9, mtime=0) as raw:  # mtime 0: byte-identical rebuilds
            raw.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in kept).encode("utf-8"))
        written[relative] = len(kept)
    return written


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else data_dir()
    for name, rows in build(folder).items():
        print(f"{name}: {rows} rows")
