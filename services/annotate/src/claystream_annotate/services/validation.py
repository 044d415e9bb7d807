"""Response values checked against the dataset's questions (errors name the question and reason)."""

from __future__ import annotations

from typing import Any

import orjson
from claystream_common.datasets import DatasetSpec, QuestionSpec

from claystream_annotate.services.errors import Invalid

STATUSES = ("submitted", "draft", "discarded")
MAX_TEXT = 10_000
# the encoded answers of one response; an event carries them twice (values + previous_values),
# and must stay under the relay's 900 kB per event (see services/outbox.py)
MAX_VALUES_BYTES = 256 * 1024


def _check_value(question: QuestionSpec, value: Any) -> Any:
    field = f"values.{question.name}"
    if question.type == "label":
        if not isinstance(value, str) or value not in question.labels:
            raise Invalid(field, f"must be one of {question.labels}")
        return value
    if question.type == "multi_label":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid(field, "must be a list of labels")
        unknown = [v for v in value if v not in question.labels]
        if unknown:
            raise Invalid(field, f"unknown labels {unknown}; allowed {question.labels}")
        if question.required and not value:
            raise Invalid(field, "choose at least one label")
        return sorted(set(value), key=question.labels.index)
    if question.type == "rating":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= (question.rating_max or 0):
            raise Invalid(field, f"must be an integer from 1 to {question.rating_max}")
        return value
    if not isinstance(value, str):
        raise Invalid(field, "must be text")
    if len(value) > MAX_TEXT:
        raise Invalid(field, f"at most {MAX_TEXT} characters")
    if question.required and not value.strip():
        raise Invalid(field, "must not be empty")
    return value


def validate_values(spec: DatasetSpec, values: dict[str, Any] | None, status: str) -> dict[str, Any]:
    """Clean values for ``status``: submitted needs every required question; drafts and discards
    may be partial; unknown questions are refused."""
    if status not in STATUSES:
        raise Invalid("status", f"must be one of {list(STATUSES)}")
    values = values or {}
    if not isinstance(values, dict):
        raise Invalid("values", "must be an object of question → value")
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        question = spec.question(name)
        if question is None:
            raise Invalid(f"values.{name}", f"unknown question; dataset {spec.name} asks {[q.name for q in spec.questions]}")
        if value is None:
            continue
        cleaned[name] = _check_value(question, value)
    size = len(orjson.dumps(cleaned))
    if size > MAX_VALUES_BYTES:
        raise Invalid("values", f"the answers take {size} bytes encoded; at most {MAX_VALUES_BYTES} per response")
    if status == "submitted":
        for question in spec.questions:
            if question.required and question.name not in cleaned:
                raise Invalid(f"values.{question.name}", "required to submit")
    return cleaned
