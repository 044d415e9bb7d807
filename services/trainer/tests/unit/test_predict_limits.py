"""Issue 17 finding 9: predict refuses overlong texts (422 naming the field) before any model runs."""

from __future__ import annotations

import pytest
from claystream_trainer.api.schemas import PREDICT_TEXT_MAX_CHARS, PredictRequest
from pydantic import ValidationError


def test_overlong_texts_are_refused_with_the_field_named() -> None:
    assert PredictRequest(text="x" * PREDICT_TEXT_MAX_CHARS).batch() == ["x" * PREDICT_TEXT_MAX_CHARS]
    with pytest.raises(ValidationError) as single:
        PredictRequest(text="x" * (PREDICT_TEXT_MAX_CHARS + 1))
    assert single.value.errors()[0]["loc"] == ("text",)
    with pytest.raises(ValidationError) as batch:
        PredictRequest(texts=["fine", "y" * (PREDICT_TEXT_MAX_CHARS + 1)])
    assert batch.value.errors()[0]["loc"] == ("texts", 1)
