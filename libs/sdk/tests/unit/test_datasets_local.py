"""The offline twin of load_dataset("imdb", split="unsupervised")."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from claystream.datasets_local import load_imdb
from claystream_devstack.pytest_plugin import shared_data_dir


def test_load_imdb_reads_a_split_from_a_folder(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "train.jsonl.gz", "wt") as handle:
        for i in range(5):
            handle.write(json.dumps({"id": str(i), "text": f"t{i}", "label": "positive", "rating": 8}) + "\n")
    dataset = load_imdb("train", data_dir=tmp_path)
    assert dataset.num_rows == 5 and dataset.column_names == ["id", "text", "label", "rating"]
    assert dataset.shuffle(seed=42).select(range(3)).num_rows == 3
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        load_imdb("dev", data_dir=tmp_path)


def test_the_shared_unsupervised_split_has_every_review() -> None:
    folder = shared_data_dir() / "imdb"
    if not (folder / "unsup.jsonl.gz").exists():
        pytest.skip("shared IMDb data not present")
    full = load_imdb("unsupervised", data_dir=folder)
    sample = full.shuffle(seed=42).select(range(100))
    assert full.num_rows == 49_990 and sample.num_rows == 100 and set(sample.column_names) == {"id", "text"}


def test_without_shared_data_imdb_comes_from_the_packaged_sample(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A repository clone has no ../shared: the README's three lines still run, on the demo's sample."""
    monkeypatch.setenv("CLAYSTREAM_SHARED_DATA", str(tmp_path))
    dataset = load_imdb("unsupervised").shuffle(seed=42).select(range(100))
    assert len(dataset) == 100 and all(isinstance(text, str) and text for text in dataset["text"])
