from __future__ import annotations

import pytest
from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.validation import validate_values

from conftest import make_spec


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ({"sentiment": "meh"}, "values.sentiment", "must be one of"),
        ({"sentiment": "pos", "topics": ["plot", "nope"]}, "values.topics", "unknown labels"),
        ({"sentiment": "pos", "topics": "plot"}, "values.topics", "list of labels"),
        ({"sentiment": "pos", "stars": 6}, "values.stars", "from 1 to 5"),
        ({"sentiment": "pos", "stars": True}, "values.stars", "from 1 to 5"),
        ({"sentiment": "pos", "note": 3}, "values.note", "must be text"),
        ({"sentiment": "pos", "colour": "red"}, "values.colour", "unknown question"),
        ({}, "values.sentiment", "required to submit"),
    ],
)
def test_bad_values_name_the_question_and_reason(values: dict, field: str, reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        validate_values(make_spec(), values, "submitted")
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_good_values_are_cleaned() -> None:
    cleaned = validate_values(make_spec(), {"sentiment": "neg", "topics": ["music", "plot", "plot"], "stars": 4, "note": None}, "submitted")
    assert cleaned == {"sentiment": "neg", "topics": ["plot", "music"], "stars": 4}


def test_drafts_and_discards_may_be_partial_but_not_wrong() -> None:
    assert validate_values(make_spec(), {}, "draft") == {}
    assert validate_values(make_spec(), None, "discarded") == {}
    with pytest.raises(Invalid):
        validate_values(make_spec(), {"sentiment": "meh"}, "draft")


def test_unknown_status_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        validate_values(make_spec(), {"sentiment": "pos"}, "maybe")
    assert caught.value.field == "status"
