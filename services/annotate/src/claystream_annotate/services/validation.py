"""Response values checked against the dataset's questions (errors name the question and reason).

What a value may be is the question type's business (``claystream_common.questions``); ingest
checks suggestions with the very same calls, so both store the same normal form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from claystream_common.datasets import DatasetSpec
from claystream_common.questions import InvalidValue, question_type

from claystream_annotate.services.errors import Invalid

STATUSES = ("submitted", "draft", "discarded")
# the encoded answers of one response; an event carries them twice (values + previous_values),
# and must stay under the relay's 900 kB per event (see services/outbox.py)
MAX_VALUES_BYTES = 256 * 1024


def needs_record(spec: DatasetSpec, values: Mapping[str, Any] | None) -> bool:
    """Whether validating ``values`` needs the record's fields (e.g. span offsets into its text)."""
    return any(
        (question := spec.question(name)) is not None and value is not None and question_type(question).needs_fields
        for name, value in (values or {}).items()
    ) if isinstance(values, Mapping) else False


def validate_values(
    spec: DatasetSpec,
    values: dict[str, Any] | None,
    status: str,
    *,
    record: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Clean values for ``status``: submitted needs every required question; drafts and discards
    may be partial; unknown questions are refused.  ``record`` (its ``fields``) is needed when
    :func:`needs_record` says so; its id then names the record in errors."""
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
        kind = question_type(question)
        if kind.needs_fields and record is None:
            raise Invalid(f"values.{name}", f"{kind.name} answers are checked against their record's text: "
                                            "given one record at a time, once it is stored (or with its fields)")
        try:
            cleaned[name] = kind.normalise(question, value, (record or {}).get("fields") or {})
        except InvalidValue as error:
            where = f"record {record.get('_id')}: " if kind.needs_fields and record is not None else ""
            raise Invalid(f"values.{name}", where + error.reason) from None
    size = len(orjson.dumps(cleaned))
    if size > MAX_VALUES_BYTES:
        raise Invalid("values", f"the answers take {size} bytes encoded; at most {MAX_VALUES_BYTES} per response")
    if status == "submitted":
        for question in spec.questions:
            if question.required and (question.name not in cleaned or question_type(question).is_empty(question, cleaned[question.name])):
                raise Invalid(f"values.{question.name}", "required to submit")
    return cleaned
