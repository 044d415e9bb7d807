"""The view models and the filter parsing, without a server."""

from __future__ import annotations

import pytest
from claystream_annotate.services.errors import Invalid
from claystream_annotate.web.filters import filter_values, record_query
from claystream_annotate.web.views import (
    join_trail,
    metadata_items,
    parse_trail,
    question_views,
    suggestions_of,
    training_view,
    values_from_form,
)
from claystream_common.datasets import DatasetSpec
from starlette.datastructures import FormData, QueryParams

SPEC = DatasetSpec(
    id="d1",
    workspace="w",
    name="reviews",
    fields=[{"name": "text"}],
    questions=[
        {"name": "sentiment", "type": "label", "labels": ["negative", "positive"]},
        {"name": "topics", "type": "multi_label", "labels": ["acting", "plot", "music"], "required": False},
        {"name": "stars", "type": "rating", "rating_max": 5, "required": False},
        {"name": "note", "type": "text", "required": False},
    ],
    metadata_properties=[{"name": "source", "type": "terms"}, {"name": "length", "type": "integer"}],
)
RECORD = {
    "_id": "r1",
    "fields": {"text": "hello"},
    "suggestions": {"sentiment": {"value": "positive", "score": 0.83, "scores": {"positive": 0.83, "negative": 0.17}}},
}


def test_suggestion_is_preselected_with_scores_and_digits() -> None:
    sentiment, topics, stars, note = question_views(SPEC, RECORD, None)
    assert [(o.label, o.checked, o.hotkey, o.score) for o in sentiment.options] == [
        ("negative", False, "1", 0.17),
        ("positive", True, "2", 0.83),
    ]
    assert sentiment.options[1].suggested and sentiment.title == "Sentiment"
    assert [o.hotkey for o in topics.options] == ["1", "2", "3"] and not any(o.checked for o in topics.options)
    assert [o.value for o in stars.options] == [1, 2, 3, 4, 5]
    assert note.type == "text" and note.text == ""


def test_the_users_answer_wins_over_the_suggestion() -> None:
    sentiment, topics, stars, note = question_views(SPEC, RECORD, {"sentiment": "negative", "topics": ["plot"], "stars": 4, "note": "ok"})
    assert [o.checked for o in sentiment.options] == [True, False]
    assert [o.checked for o in topics.options] == [False, True, False]
    assert [o.checked for o in stars.options] == [False, False, False, True, False]
    assert note.text == "ok"


def test_suggestions_stored_as_a_list_are_understood() -> None:
    assert suggestions_of({"suggestions": [{"question": "sentiment", "value": "negative", "score": 0.5}]}) == {
        "sentiment": {"question": "sentiment", "value": "negative", "score": 0.5}
    }


def test_form_values_are_typed_per_question() -> None:
    form = FormData([("q.sentiment", "positive"), ("q.topics", "acting"), ("q.topics", "music"), ("q.topics.present", "1"), ("q.stars", "3"), ("q.note", "  ")])
    assert values_from_form(SPEC, form) == {"sentiment": "positive", "topics": ["acting", "music"], "stars": 3}
    cleared = FormData([("q.topics.present", "1")])
    assert values_from_form(SPEC, cleared) == {"topics": []}
    with pytest.raises(Invalid) as error:
        values_from_form(SPEC, FormData([("q.stars", "five")]))
    assert error.value.field == "values.stars"


def test_trails_are_bounded_and_deduplicated() -> None:
    assert parse_trail("a, b,,c") == ["a", "b", "c"]
    assert len(parse_trail(",".join(f"id{i}" for i in range(50)))) == 20
    assert join_trail(["a", "b", "a"]) == "a,b"


def test_trail_ids_that_are_not_record_ids_are_dropped() -> None:
    """Issue 17 low: trail ids go into hx-get URLs, so only id-shaped parts survive."""
    raw = "../../api/v1/workspaces/w/datasets/d/export,ok-1,a/b,x?y=1,%2e%2e,javascript:alert(1),0f3c2d1e-aaaa-4bbb-8ccc-123456789abc"
    assert parse_trail(raw) == ["ok-1", "0f3c2d1e-aaaa-4bbb-8ccc-123456789abc"]


def test_metadata_items_skip_nested_values() -> None:
    assert metadata_items({"metadata": {"source": "imdb", "nested": {"a": 1}, "n": 3}}) == [("source", "imdb"), ("n", "3")]


def test_training_view_follows_the_latest_event() -> None:
    assert training_view([])["state"] == "idle"
    running = training_view([{"type": "training.progress", "data": {"kind": "finetune", "step": 3, "total_steps": 10}}])
    assert running["running"] and running["step"] == 3 and running["total"] == 10
    done = training_view(
        [{"type": "model.promoted", "data": {"model_version": "v7", "metrics": {"accuracy": 0.9}}}, {"type": "training.started", "data": {}}]
    )
    assert done["state"] == "ok" and done["model_version"] == "v7" and done["metrics"] == {"accuracy": 0.9}
    failed = training_view([{"type": "training.failed", "data": {"error": "boom"}}])
    assert failed["state"] == "failed" and failed["error"] == "boom"


def test_filters_become_a_record_query() -> None:
    params = QueryParams("q=great&response_status=pending&suggested=positive&score_min=0.5&sort=-score&meta.source=imdb&meta.length.max=300")
    query = record_query(SPEC, params)
    assert (query.q, query.response_status, query.suggested, query.score_min, query.sort) == ("great", "pending", "positive", 0.5, "-score")
    assert query.metadata == {"source": ["imdb"]} and query.metadata_ranges == {"length": (None, 300.0)}
    assert query.question == "sentiment" and query.count
    assert filter_values(SPEC, params)["meta.length.max"] == "300"


@pytest.mark.parametrize(("raw", "field"), [("score_min=high", "score_min"), ("sort=random", "sort"), ("response_status=maybe", "response_status")])
def test_bad_filters_name_the_field(raw: str, field: str) -> None:
    with pytest.raises(Invalid) as error:
        record_query(SPEC, QueryParams(raw))
    assert error.value.field == field


NER = DatasetSpec(
    id="d2", workspace="w", name="ner", fields=[{"name": "text"}],
    questions=[
        {"name": "entities", "type": "span", "labels": ["PER", "LOC"], "field": "text"},
        {"name": "order", "type": "ranking", "labels": ["a", "b", "c"], "required": False},
    ],
)


def test_span_and_ranking_views_name_their_partials_and_prefill_suggestions() -> None:
    record = {"_id": "r2", "fields": {"text": "Ada in Paris"},
              "suggestions": {"entities": {"value": [{"start": 0, "end": 3, "label": "PER"}], "score": 0.7}}}
    spans, order = question_views(NER, record, None)
    assert spans.partial == "questions/span.html" and order.partial == "questions/ranking.html"
    assert spans.extra["span_text"] == "Ada in Paris" and '"start": 0' in spans.extra["spans_json"]
    assert [o.hotkey for o in spans.options] == ["1", "2"]
    assert order.extra == {"order": ["a", "b", "c"], "ranked": False}
    _, answered = question_views(NER, record, {"order": ["c", "a", "b"]})
    assert answered.extra == {"order": ["c", "a", "b"], "ranked": True}


def test_span_and_ranking_values_from_the_form() -> None:
    form = FormData([("q.entities", '[{"start": 0, "end": 3, "label": "PER"}]'), ("q.order", "b"), ("q.order", "a"), ("q.order", "c")])
    assert values_from_form(NER, form) == {"entities": [{"start": 0, "end": 3, "label": "PER"}], "order": ["b", "a", "c"]}
    assert values_from_form(NER, FormData([("q.entities", "[]")])) == {"entities": []}
    with pytest.raises(Invalid) as caught:
        values_from_form(NER, FormData([("q.entities", "[{")]))
    assert caught.value.field == "values.entities"
