"""Pure SDK pieces: filters → query parameters, Settings ↔ DatasetSpec bodies, batches sized by bytes,
flat rows with columns fixed by the settings."""

from __future__ import annotations

import pytest

from claystream import (
    Filter,
    FloatMetadataProperty,
    LabelQuestion,
    MultiLabelQuestion,
    Query,
    RatingQuestion,
    Settings,
    TaskDistribution,
    TermsMetadataProperty,
    TextField,
    TextQuestion,
    VectorField,
)
from claystream.flat import dataset_features, flat_row
from claystream.record_filters import query_params
from claystream.records import sized_batches


def test_filters_become_the_records_query_parameters() -> None:
    params = query_params(Query("great", Filter(("metadata.genre", "in", ["drama", "horror"]), ("metadata.year", ">=", 1990))),
                          Filter(("response.status", "==", "submitted"), ("suggestion.sentiment.score", "<=", 0.5)),
                          ("suggestion.score", "desc"))
    assert params == {"q": "great", "metadata.genre": ["drama", "horror"], "metadata.year.min": 1990,
                      "response_status": "submitted", "question": "sentiment", "score_max": 0.5, "sort": "-score"}
    assert query_params(None, Filter(("status", "==", "completed")), "arrival") == {"status": "completed", "sort": "arrival"}
    with pytest.raises(ValueError, match="unsupported filter"):
        Filter(("fields.text", "~", "x")).params()
    with pytest.raises(ValueError, match="one question at a time"):
        Filter(("suggestion.a.value", "==", "x"), ("suggestion.b.score", ">=", 0.1)).params()
    with pytest.raises(ValueError, match="sort"):
        query_params(None, None, "random")


def test_settings_round_trip_through_the_dataset_spec_body() -> None:
    settings = Settings(
        fields=[TextField("text", use_markdown=True)],
        questions=[LabelQuestion("sentiment", ["pos", "neg"]), MultiLabelQuestion("topics", ["a", "b"]),
                   RatingQuestion("quality", [1, 2, 3]), TextQuestion("note", required=False)],
        metadata=[TermsMetadataProperty("genre", ["drama"]), FloatMetadataProperty("year")],
        vectors=[VectorField("embedding", 384)], guidelines="g", distribution=TaskDistribution(2),
    )
    body = settings.to_body()
    assert body["questions"][1]["type"] == "multi_label" and body["questions"][2]["rating_max"] == 3
    assert body["vectors"] == [{"name": "embedding", "title": None, "dimensions": 384}] and body["min_submitted"] == 2
    assert Settings.from_body(body) == settings


def test_batches_respect_the_count_and_the_body_size() -> None:
    items = [{"text": "x" * 100} for _ in range(10)]
    assert [len(b) for b in sized_batches(items, 4, 10_000)] == [4, 4, 2]
    assert [len(b) for b in sized_batches(items, 100, 350)] == [3, 3, 3, 1]
    assert [len(b) for b in sized_batches([{"text": "x" * 1000}], 5, 10)] == [1]  # one item is never split


def test_flat_rows_have_the_settings_columns() -> None:
    settings = Settings(fields=[TextField("text")], questions=[LabelQuestion("sentiment", ["pos", "neg"])],
                        metadata=[FloatMetadataProperty("year")])
    row = flat_row(settings, {"id": "r", "external_id": "1", "status": "completed", "fields": {"text": "t"},
                              "metadata": {"year": 1999},
                              "suggestions": [{"question": "sentiment", "value": "pos", "score": 0.9, "agent": "m"}],
                              "responses": [{"user_id": "u1", "status": "submitted", "values": {"sentiment": "neg"}},
                                            {"user_id": "u2", "status": "draft", "values": {"sentiment": "pos"}}]})
    assert list(row) == dataset_features(settings)
    assert row["metadata.year"] == 1999.0 and row["sentiment.responses"] == ["neg"] and row["sentiment.responses.users"] == ["u1"]
    assert row["sentiment.suggestion"] == "pos" and row["sentiment.suggestion.score"] == 0.9


@pytest.mark.parametrize("values", [[0, 1, 2, 3, 4], [2, 4, 6], [1], list(range(1, 12)), [1, 3, 2]])
def test_rating_values_other_than_one_to_n_are_refused_not_rescaled(values: list[int]) -> None:
    with pytest.raises(ValueError, match="values must be 1, 2, ... N"):
        RatingQuestion("quality", values)


def test_a_question_type_the_sdk_does_not_know_is_an_error_not_a_text_question() -> None:
    body = {"name": "d", "fields": [{"name": "text"}], "questions": [{"name": "q", "type": "polygon", "labels": []}]}
    with pytest.raises(ValueError, match="polygon"):
        Settings.from_body(body)
