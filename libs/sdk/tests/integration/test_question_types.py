"""Every question type through the SDK against the real services: settings read back and sent again unchanged,
span answers and suggestions on the bulk paths, exports and the disk round trip; load()'s columns; metadata types."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claystream import (
    Client,
    Filter,
    FloatMetadataProperty,
    IntegerMetadataProperty,
    LabelQuestion,
    RankingQuestion,
    RatingQuestion,
    Settings,
    SpanQuestion,
    TextField,
    ValidationFailed,
)

TEXT = "Alice met Bob in Paris"
ALICE, BOB, PARIS = {"start": 0, "end": 5, "label": "PER"}, {"start": 10, "end": 13, "label": "PER"}, {"start": 17, "end": 22, "label": "LOC"}


def every_type() -> Settings:
    return Settings(
        fields=[TextField("text")],
        questions=[LabelQuestion("sentiment", ["pos", "neg"]), SpanQuestion("entities", "text", ["PER", "LOC"]),
                   RankingQuestion("order", ["a", "b", "c"], required=False), RatingQuestion("stars", [1, 2, 3], required=False)],
        metadata=[IntegerMetadataProperty("year"), FloatMetadataProperty("score")],
    )


def shape(settings: Settings) -> list[tuple[str, str, dict[str, Any]]]:
    return [(type(q).__name__, q.name, q.to_body()) for q in settings.questions]


@pytest.fixture
def annotator(make_annotator: Callable[[], str]) -> str:
    return make_annotator()


def test_a_settings_edit_keeps_span_and_ranking_questions(client: Client) -> None:
    dataset = client.datasets.create(f"q{uuid.uuid4().hex[:8]}", settings=every_type())
    dataset.update(guidelines="Mark every person and place.")
    again = client.datasets.get(dataset.name)
    assert again.settings.guidelines == "Mark every person and place."
    assert shape(again.settings) == shape(every_type())  # before the fix span and ranking came back as text questions


def test_span_answers_and_suggestions_go_through_the_bulk_paths_and_the_disk_round_trip(
    client: Client, annotator: str, poll: Callable[..., Any], tmp_path: Path,
) -> None:
    dataset = client.datasets.create(f"q{uuid.uuid4().hex[:8]}", settings=every_type())
    rows = [{"external_id": f"e{i}", "fields": {"text": TEXT}, "metadata": {"year": 2000 + i, "score": 0.5},
             "responses": [{"question": "sentiment", "value": "pos", "user": annotator},
                           {"question": "entities", "value": [ALICE, PARIS], "user": annotator},
                           {"question": "order", "value": ["b", "a", "c"], "user": annotator}]}
            for i in range(3)]
    outside = [dict(rows[0], external_id="bad", responses=[{"question": "entities", "value": [{"start": 17, "end": 40, "label": "LOC"}],
                                                            "user": annotator}])]
    with pytest.raises(ValidationFailed) as caught:  # the dry run checks offsets against the text the record will have
        dataset.records.log(outside)
    assert caught.value.errors[0]["field"] == "responses.values.entities" and "outside the text" in caught.value.errors[0]["reason"]
    assert dataset.records.log(rows).accepted == 3
    submitted = Filter(("response.status", "==", "submitted"))
    poll(lambda: sum(1 for _ in dataset.records(filter=submitted)) == 3, what="three imported span answers")
    first = next(r for r in dataset.records() if r["external_id"] == "e0")
    assert dataset.records.update([{"id": first["id"], "suggestions": [{"question": "entities", "value": [BOB], "score": 0.9}]}]) == 1

    exported = dataset.records.to_datasets()
    row = next(r for r in exported if r["external_id"] == "e0")
    assert row["entities.responses"] == [[ALICE, PARIS]] and row["entities.suggestion"] == [BOB]
    assert row["order.responses"] == [["b", "a", "c"]] and row["metadata.year"] == 2000
    assert exported.features["metadata.year"].dtype == "int64"

    dataset.to_disk(str(tmp_path / "copy"))
    copy = client.datasets.from_disk(str(tmp_path / "copy"), name=f"q{uuid.uuid4().hex[:8]}")
    assert shape(copy.settings) == shape(every_type())
    poll(lambda: sum(1 for _ in copy.records(filter=submitted)) == 3, what="the copy's three answers")
    copied = {r["external_id"]: r for r in copy.records()}
    source = {r["external_id"]: r for r in dataset.records()}
    assert {e: [r["values"] for r in copied[e]["responses"]] for e in source} == {e: [r["values"] for r in source[e]["responses"]] for e in source}


def test_a_failed_import_from_disk_leaves_no_dataset_behind(client: Client, tmp_path: Path) -> None:
    dataset = client.datasets.create(f"q{uuid.uuid4().hex[:8]}", settings=every_type())
    dataset.records.log([{"external_id": "e0", "fields": {"text": TEXT}}])
    assert dataset.records.wait_stored(1) == 1
    dataset.to_disk(str(tmp_path / "copy"))
    records = tmp_path / "copy" / "records.jsonl"
    records.write_text(records.read_text().replace(TEXT, ""))  # a required field emptied: the import fails
    name = f"q{uuid.uuid4().hex[:8]}"
    with pytest.raises(ValidationFailed):
        client.datasets.from_disk(str(tmp_path / "copy"), name=name)
    assert name not in [d.name for d in client.datasets.list()]


def test_load_has_the_settings_columns_before_anything_is_answered(client: Client) -> None:
    dataset = client.datasets.create(f"q{uuid.uuid4().hex[:8]}", settings=every_type())
    empty = client.load(dataset.name)
    assert empty.num_rows == 0
    assert {"text", "metadata.year", "sentiment.responses", "sentiment.suggestion", "entities.responses"} <= set(empty.column_names)
    dataset.records.log([{"external_id": "e0", "fields": {"text": TEXT}, "metadata": {"year": 1999}}])
    assert dataset.records.wait_stored(1) == 1
    loaded = client.load(dataset.name)
    assert loaded[0]["sentiment.responses"] == [] and loaded[0]["metadata.year"] == 1999
    with pytest.raises(ValueError, match="lable.responses"):
        client.prepare_for_training(loaded, question="lable")  # a typo is an error, not zero rows


def test_integer_metadata_survives_pandas_and_csv_shaped_values(client: Client) -> None:
    pd = pytest.importorskip("pandas")
    dataset = client.datasets.create(f"q{uuid.uuid4().hex[:8]}", settings=every_type())
    frame = pd.DataFrame({"id": ["a", "b", "c"], "text": [TEXT] * 3, "year": [2001, None, 2003], "score": ["0.5", "", "1"]})
    assert frame["year"].dtype == "float64"  # what pandas makes of an integer column with a gap
    assert client.log(frame, dataset.name, fields=["text"], metadata=["year", "score"]).accepted == 3
    assert dataset.records.wait_stored(3) == 3
    stored = {r["external_id"]: r.get("metadata") or {} for r in dataset.records()}
    assert stored == {"a": {"year": 2001, "score": 0.5}, "b": {}, "c": {"year": 2003, "score": 1.0}}
    assert type(stored["a"]["year"]) is int
    again = dataset.records.to_pandas()
    assert client.log(again, dataset.name, fields=["text"], metadata={"year": "metadata.year"}, id_column="external_id").accepted == 3
