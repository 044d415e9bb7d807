"""The demo's data: the packaged sample when the shared data is absent, the shared file when present."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from claystream_devstack import demo_data
from claystream_devstack.demo import DemoConfig
from claystream_devstack.sample_build import SAMPLE_PLAN, draw


@pytest.fixture
def no_shared_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("CLAYSTREAM_SHARED_DATA", str(empty))
    demo_data.clear_cache()
    yield empty
    demo_data.clear_cache()


def test_without_shared_data_every_demo_file_comes_from_the_packaged_sample(no_shared_data: Path) -> None:
    for relative in SAMPLE_PLAN:
        assert demo_data.source_path(relative).is_relative_to(demo_data.SAMPLE_DIR)
        assert demo_data.describe_source(relative) == "packaged sample"


def test_the_packaged_sample_is_small_and_holds_what_its_provenance_says() -> None:
    total = 0
    for relative, count in SAMPLE_PLAN.items():
        path = demo_data.SAMPLE_DIR / relative
        total += path.stat().st_size
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        assert len(rows) == count and all(row["id"] and row["text"] for row in rows)
        assert f"`{relative}` | {count:,}" in (demo_data.SAMPLE_DIR / "PROVENANCE.md").read_text()
    assert total < 3_000_000


def test_the_full_simulated_demo_fits_in_the_packaged_sample(no_shared_data: Path) -> None:
    config = DemoConfig()
    assert len(demo_data.unlabelled_imdb(config.unlabelled, seed=config.seed)) == config.unlabelled
    train = demo_data.balanced("imdb/train.jsonl.gz", config.labelled, seed=config.seed)
    assert sorted({r["label"] for r in train[:2]}) == ["negative", "positive"] and len(train) == config.labelled
    evaluation = demo_data.sample("imdb/test.jsonl.gz", config.eval_size, seed=config.seed)
    production = demo_data.sample("imdb/test.jsonl.gz", config.stationary, seed=config.seed + 1,
                                  exclude={str(r["id"]) for r in evaluation})
    assert len(evaluation) == config.eval_size and len(production) == config.stationary
    assert len(demo_data.sample("rt_polarity/sentences.jsonl.gz", config.drifted)) == config.drifted


def test_a_shared_data_file_when_present_wins_over_the_sample(no_shared_data: Path) -> None:
    (no_shared_data / "imdb").mkdir()
    with gzip.open(no_shared_data / "imdb" / "unsup.jsonl.gz", "wt") as handle:
        handle.write(json.dumps({"id": "only", "text": "from the shared folder"}) + "\n")
    assert demo_data.describe_source("imdb/unsup.jsonl.gz") == "shared data"
    assert [r["id"] for r in demo_data.unlabelled_imdb(5)] == ["only"]
    assert demo_data.describe_source("imdb/train.jsonl.gz") == "packaged sample"  # per file


def test_a_file_in_neither_place_is_named_with_both_folders(no_shared_data: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope/x\.jsonl\.gz is neither in .*empty.* nor in the packaged sample"):
        demo_data.sample("nope/x.jsonl.gz", 3)


def test_draw_keeps_labels_equal_and_the_original_order() -> None:
    rows = [{"id": str(i), "label": "a" if i % 4 else "b"} for i in range(100)]
    kept = draw(rows, 20)
    assert [r["label"] for r in kept].count("b") == 10 and [int(r["id"]) for r in kept] == sorted(int(r["id"]) for r in kept)
    assert draw(rows, 20) == kept


def test_the_demo_imports_the_rows_of_the_readme_walkthrough(no_shared_data: Path) -> None:
    """The demo drew its 100 reviews with random.sample: the README's load_imdb(...).shuffle(seed=42).select(range(100))
    then added 75 new records to imdb_reviews instead of re-sending the same ones."""
    from claystream.datasets_local import load_imdb

    walkthrough = load_imdb("unsupervised").shuffle(seed=42).select(range(100))
    assert [str(r["id"]) for r in demo_data.unlabelled_imdb(100, seed=42)] == [str(i) for i in walkthrough["id"]]
