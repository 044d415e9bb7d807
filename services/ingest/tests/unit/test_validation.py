"""Every record rule, with the exact error entries the 422 body carries."""

from __future__ import annotations

from typing import Any

import pytest

from claystream_common.questions import question_type
from claystream_ingest.services.validation import RecordValidator, ValidatorCache
from ingest_fakes import imdb_spec

GOOD = {"external_id": "r1", "fields": {"text": "Great film"}}


def errors_of(record: Any) -> list[dict[str, Any]]:
    good, errors = RecordValidator(imdb_spec()).validate([record])
    assert (not good) == bool(errors)
    return errors


def test_a_valid_record_is_normalised() -> None:
    record = {
        "external_id": 42, "fields": {"text": "Great", "title": None},
        "metadata": {"genre": "drama", "source": "web", "year": 1999, "rating": 7, "extra": None} | {},
        "suggestions": [{"question": "sentiment", "value": "positive", "score": 0.9, "agent": "m"},
                        {"question": "topics", "value": ["plot", "music"]},
                        {"question": "stars", "value": 4}, {"question": "note", "value": "fine"}],
        "vectors": {"mini": [0.1, 2, -3.5]}, "origin": "monitor",
    }
    record["metadata"].pop("extra")
    record["metadata"]["lang"] = "en"  # undeclared, but a plain value: kept
    good, errors = RecordValidator(imdb_spec()).validate([record])
    assert errors == []
    assert good == [(0, {
        "external_id": "42", "fields": {"text": "Great"},
        "metadata": {"genre": "drama", "source": "web", "year": 1999, "rating": 7, "lang": "en"},
        "suggestions": [
            {"question": "sentiment", "value": "positive", "score": 0.9, "agent": "m", "model_version": None},
            {"question": "topics", "value": ["plot", "music"], "score": None, "agent": None, "model_version": None},
            {"question": "stars", "value": 4, "score": None, "agent": None, "model_version": None},
            {"question": "note", "value": "fine", "score": None, "agent": None, "model_version": None},
        ],
        "vectors": {"mini": [0.1, 2, -3.5]}, "origin": "monitor",
    })]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("text", [{"index": 0, "field": "", "reason": "record must be a JSON object"}]),
        (GOOD | {"colour": "red"}, [{"index": 0, "field": "colour", "reason":
                                     "unknown property (allowed: external_id, fields, metadata, origin, suggestions, vectors)"}]),
        (GOOD | {"external_id": 1.5}, [{"index": 0, "field": "external_id", "reason": "must be a string or an integer"}]),
        (GOOD | {"external_id": ""}, [{"index": 0, "field": "external_id", "reason": "must be 1 to 256 characters"}]),
        (GOOD | {"external_id": "x" * 257}, [{"index": 0, "field": "external_id", "reason": "must be 1 to 256 characters"}]),
        ({"external_id": "r1"}, [{"index": 0, "field": "fields", "reason": "required property is missing"}]),
        (GOOD | {"fields": ["Great"]}, [{"index": 0, "field": "fields", "reason": "must be an object of field name to text"}]),
        (GOOD | {"fields": {"text": "ok", "body": "x"}},
         [{"index": 0, "field": "fields.body", "reason": "unknown field (dataset fields: text, title)"}]),
        (GOOD | {"fields": {"text": 5}}, [{"index": 0, "field": "fields.text", "reason": "must be a string"}]),
        (GOOD | {"fields": {"title": "t"}}, [{"index": 0, "field": "fields.text", "reason": "required field is missing"}]),
        (GOOD | {"fields": {"text": "  "}}, [{"index": 0, "field": "fields.text", "reason": "required field is empty"}]),
        (GOOD | {"metadata": [1]}, [{"index": 0, "field": "metadata", "reason": "must be an object of property name to value"}]),
        (GOOD | {"metadata": {"lang": ["en"]}}, [{"index": 0, "field": "metadata.lang", "reason":
                                                  "undeclared metadata must be a string, number or boolean "
                                                  "(declared: genre, rating, source, year)"}]),
        (GOOD | {"origin": ""}, [{"index": 0, "field": "origin", "reason":
                                  "must be a string of 1 to 64 characters, e.g. 'monitor'"}]),
        (GOOD | {"metadata": {"source": 3}}, [{"index": 0, "field": "metadata.source", "reason": "must be a string (terms)"}]),
        (GOOD | {"metadata": {"genre": "horror"}}, [{"index": 0, "field": "metadata.genre", "reason":
                                                     "'horror' is not one of the allowed terms: comedy, drama"}]),
        (GOOD | {"metadata": {"year": 1999.5}}, [{"index": 0, "field": "metadata.year", "reason": "must be an integer"}]),
        (GOOD | {"metadata": {"year": True}}, [{"index": 0, "field": "metadata.year", "reason": "must be an integer"}]),
        (GOOD | {"metadata": {"year": 2**63}}, [{"index": 0, "field": "metadata.year", "reason":
                                                 f"must be an integer from {-2**63} to {2**63 - 1}"}]),
        (GOOD | {"metadata": {"undeclared": 2**64}}, [{"index": 0, "field": "metadata.undeclared", "reason":
                                                       f"integers must be from {-2**63} to {2**63 - 1}"}]),
        (GOOD | {"metadata": {"a\x00b": 1}}, [{"index": 0, "field": "metadata.a\x00b", "reason":
                                               "metadata names may not be empty, contain '.' or a NUL character, or start with '$'"}]),
        (GOOD | {"metadata": {"$where": "x"}}, [{"index": 0, "field": "metadata.$where", "reason":
                                                 "metadata names may not be empty, contain '.' or a NUL character, or start with '$'"}]),
        (GOOD | {"metadata": {"rating": "seven"}}, [{"index": 0, "field": "metadata.rating", "reason":
                                                 "must be a finite number (float)"}]),
        (GOOD | {"suggestions": {"sentiment": "positive"}},
         [{"index": 0, "field": "suggestions", "reason": "must be a list of suggestion objects"}]),
        (GOOD | {"suggestions": ["positive"]},
         [{"index": 0, "field": "suggestions[0]", "reason": "must be an object with question and value"}]),
        (GOOD | {"suggestions": [{"question": "mood", "value": "x"}]},
         [{"index": 0, "field": "suggestions[0].question", "reason":
           "unknown question 'mood' (dataset questions: note, sentiment, stars, topics)"}]),
        (GOOD | {"suggestions": [{"question": "sentiment", "value": "meh"}]},
         [{"index": 0, "field": "suggestions[0].value", "reason": "question 'sentiment': must be one of ['positive', 'negative'], not 'meh'"}]),
        (GOOD | {"suggestions": [{"question": "sentiment"}]},
         [{"index": 0, "field": "suggestions[0].value", "reason": "question 'sentiment': required property is missing"}]),
        (GOOD | {"suggestions": [{"question": "sentiment", "value": "positive"}, {"question": "sentiment", "value": "negative"}]},
         [{"index": 0, "field": "suggestions[1].question", "reason": "more than one suggestion for question 'sentiment'"}]),
        (GOOD | {"suggestions": [{"question": "topics", "value": "plot"}]},
         [{"index": 0, "field": "suggestions[0].value", "reason": "question 'topics': must be a list of labels"}]),
        (GOOD | {"suggestions": [{"question": "topics", "value": ["plot", "dance"]}]},
         [{"index": 0, "field": "suggestions[0].value", "reason": "question 'topics': unknown labels ['dance']; allowed ['acting', 'plot', 'music']"}]),
        (GOOD | {"suggestions": [{"question": "topics", "value": []}]},
         [{"index": 0, "field": "suggestions[0].value", "reason": "question 'topics': must not be empty"}]),
        (GOOD | {"suggestions": [{"question": "stars", "value": 6}]},
         [{"index": 0, "field": "suggestions[0].value", "reason": "question 'stars': must be an integer from 1 to 5"}]),
        (GOOD | {"suggestions": [{"question": "note", "value": ""}]},
         [{"index": 0, "field": "suggestions[0].value", "reason": "question 'note': must not be empty"}]),
        (GOOD | {"suggestions": [{"question": "sentiment", "value": "positive", "score": 1.5}]},
         [{"index": 0, "field": "suggestions[0].score", "reason": "must be a number between 0 and 1"}]),
        (GOOD | {"suggestions": [{"question": "sentiment", "value": "positive", "agent": 7}]},
         [{"index": 0, "field": "suggestions[0].agent", "reason": "must be a string"}]),
        (GOOD | {"suggestions": [{"question": "sentiment", "value": "positive", "why": "x"}]},
         [{"index": 0, "field": "suggestions[0].why", "reason": "unknown property"}]),
        (GOOD | {"vectors": [1.0]}, [{"index": 0, "field": "vectors", "reason":
                                      "must be an object of vector name to list of numbers"}]),
        (GOOD | {"vectors": {"mini": []}}, [{"index": 0, "field": "vectors.mini", "reason":
                                             "must be a list of 3 numbers (got 0 numbers)"}]),
        (GOOD | {"vectors": {"mini": [1.0, 2.0]}}, [{"index": 0, "field": "vectors.mini", "reason":
                                                     "must be a list of 3 numbers (got 2 numbers)"}]),
        (GOOD | {"vectors": {"mini": "1,2,3"}}, [{"index": 0, "field": "vectors.mini", "reason":
                                                  "must be a list of 3 numbers (got str)"}]),
        (GOOD | {"vectors": {"other": [1.0, 2.0, 3.0]}}, [{"index": 0, "field": "vectors.other", "reason":
                                                           "unknown vector field (dataset vector fields: mini)"}]),
        (GOOD | {"vectors": {"mini": [1, "2", 3]}}, [{"index": 0, "field": "vectors.mini", "reason":
                                                      "must contain only finite numbers"}]),
    ],
)
def test_each_rule_reports_index_field_and_reason(record: Any, expected: list[dict[str, Any]]) -> None:
    assert errors_of(record) == expected


def test_every_bad_record_is_listed_by_index_and_good_ones_are_kept() -> None:
    items = [GOOD, {"fields": {}}, GOOD | {"external_id": "r3"}, {"fields": {"text": 1, "body": "x"}}]
    good, errors = RecordValidator(imdb_spec()).validate(items)
    assert [index for index, _ in good] == [0, 2]
    assert errors == [
        {"index": 1, "field": "fields.text", "reason": "required field is missing"},
        {"index": 3, "field": "fields.text", "reason": "must be a string"},
        {"index": 3, "field": "fields.body", "reason": "unknown field (dataset fields: text, title)"},
    ]


def test_validators_are_compiled_once_per_dataset_version() -> None:
    cache = ValidatorCache(max_entries=2)
    spec = imdb_spec()
    assert cache.for_spec(spec) is cache.for_spec(imdb_spec())
    changed = spec.model_copy(update={"guidelines": "new"})
    assert cache.for_spec(changed) is not cache.for_spec(spec)


def test_a_repeated_label_is_folded_as_annotate_folds_it() -> None:
    """Ingest and annotate share the question type's normal form (once: ingest refused, annotate folded)."""
    spec = imdb_spec()
    record = GOOD | {"suggestions": [{"question": "topics", "value": ["music", "plot", "plot"]}]}
    good, errors = RecordValidator(spec).validate([record])
    assert errors == []
    stored = good[0][1]["suggestions"][0]["value"]
    assert stored == ["plot", "music"]
    topics = spec.question("topics")
    assert stored == question_type(topics).normalise(topics, ["plot", "music", "music"])


def _span_spec() -> Any:
    from claystream_common.datasets import DatasetSpec

    return DatasetSpec.model_validate({
        "id": "ds-2", "workspace": "acme", "name": "ner", "fields": [{"name": "text"}],
        "questions": [{"name": "entities", "type": "span", "labels": ["PER", "LOC"], "field": "text"}],
    })


def test_span_suggestions_are_checked_against_their_record_text() -> None:
    records = [
        {"external_id": "ok", "fields": {"text": "Ada in Paris"},
         "suggestions": [{"question": "entities", "value": [{"start": 7, "end": 12, "label": "LOC"}, {"start": 0, "end": 3, "label": "PER"}]}]},
        {"external_id": "far", "fields": {"text": "Ada"},
         "suggestions": [{"question": "entities", "value": [{"start": 0, "end": 3, "label": "PER"}, {"start": 2, "end": 9, "label": "LOC"}]}]},
        {"external_id": "odd", "fields": {"text": "Ada in Paris"},
         "suggestions": [{"question": "entities", "value": [{"start": 0, "end": 3, "label": "ORG"}]}]},
    ]
    good, errors = RecordValidator(_span_spec()).validate(records)
    assert [index for index, _ in good] == [0]
    assert good[0][1]["suggestions"][0]["value"] == [{"start": 0, "end": 3, "label": "PER"}, {"start": 7, "end": 12, "label": "LOC"}]
    assert errors == [
        {"index": 1, "field": "suggestions[0].value",
         "reason": "question 'entities': span 1 (2–9 'LOC'): outside the text of field 'text' (0–3, start < end)"},
        {"index": 2, "field": "suggestions[0].value",
         "reason": "question 'entities': span 0 (0–3 'ORG'): unknown label; allowed ['PER', 'LOC']"},
    ]
