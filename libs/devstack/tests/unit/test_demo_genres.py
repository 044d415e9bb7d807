"""The second demo dataset (multi-label movie genres): its packaged sample, its dataset, its records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from claystream_common.datasets import DatasetSpec
from claystream_devstack import demo_data, demo_genres
from claystream_devstack.demo import DemoConfig


@pytest.fixture
def no_shared_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CLAYSTREAM_SHARED_DATA", str(tmp_path))
    demo_data.clear_cache()
    yield
    demo_data.clear_cache()


def test_the_demo_offers_genres_from_the_packaged_sample_alone(no_shared_data: None) -> None:
    assert demo_data.describe_source(demo_genres.TRAIN_FILE) == "packaged sample"
    rows = demo_genres.unlabelled_overviews(DemoConfig().genres, seed=42)
    assert len(rows) == DemoConfig().genres == len({r["id"] for r in rows})
    assert rows == demo_genres.unlabelled_overviews(DemoConfig().genres, seed=42)
    assert all(r["title"] and r["text"] and set(r["genres"]) <= set(demo_genres.GENRES) for r in rows)
    assert len({g for r in rows for g in r["genres"]}) >= 15  # enough genres for the one-vs-rest head


def test_the_dataset_is_one_multi_label_question_over_the_overview_and_records_carry_no_genres() -> None:
    body = demo_genres.dataset_body()
    spec = DatasetSpec.model_validate({**body, "id": "x", "workspace": "demo"})
    assert [(q.name, q.type, len(q.labels)) for q in spec.questions] == [("genres", "multi_label", 19)]
    assert spec.trainer.text_field == "text"
    row = {"id": 7, "title": "Heat", "text": "A thief and a detective.", "genres": ["Crime"], "year": 1995}
    (record,) = demo_genres.records_of([row], source="tmdb_train")
    assert record == {"external_id": "7", "fields": {"title": "Heat", "text": "A thief and a detective."},
                      "metadata": {"source": "tmdb_train", "year": 1995}}
