"""Property tests for the validators every untrusted byte goes through: event decoding, the dataset spec and
API-key parsing.  A validator that raises anything but its documented error would put the consumer runner in a
crash loop (it dead-letters only EventDecodeError), so "never raises anything else" is the key property."""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from claystream_common.apikeys import KEY_PREFIX, generate_api_key, parse_api_key, secret_matches
from claystream_common.datasets import DatasetSpec
from claystream_common.events import (
    EVENT_TYPES,
    EventDecodeError,
    FeedbackLogged,
    PredictionLogged,
    RecordIngested,
    RecordSuggestion,
    ResponseChanged,
    SuggestionCreated,
    decode_event,
    encode_event,
    new_event,
)

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- strategies
text = st.text(max_size=30)
names = st.from_regex(r"[a-z0-9][a-z0-9_\-]{0,10}", fullmatch=True)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | finite | text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
aware_datetimes = st.datetimes(timezones=st.just(UTC))

suggestions = st.builds(RecordSuggestion, question=names, value=json_scalars, score=st.none() | finite,
                        agent=st.none() | text, model_version=st.none() | text)
payloads = st.one_of(
    st.builds(
        RecordIngested,
        record_id=text,
        external_id=st.none() | text,
        fields=st.dictionaries(names, json_values, max_size=4),
        metadata=st.dictionaries(names, json_values, max_size=3),
        suggestions=st.lists(suggestions, max_size=3),
        vectors=st.dictionaries(names, st.lists(finite, max_size=4), max_size=2),
    ).map(lambda d: ("record.ingested", d)),
    st.tuples(
        st.sampled_from(["response.submitted", "response.updated", "response.discarded"]),
        st.builds(ResponseChanged, response_id=text, record_id=text, user_id=text,
                  status=st.sampled_from(["submitted", "draft", "discarded"]),
                  values=st.dictionaries(names, json_values, max_size=3), version=st.integers(1, 10**6)),
    ),
    st.builds(SuggestionCreated, record_id=text, question=names, label=json_scalars, score=finite,
              scores=st.dictionaries(text, finite, max_size=4), model_version=text,
              priority=finite).map(lambda d: ("suggestion.created", d)),
    st.builds(PredictionLogged, request_id=text, model=text, text=st.text(max_size=200), predicted_label=text,
              scores=st.dictionaries(text, finite, max_size=4), predicted_at=aware_datetimes,
              metadata=st.dictionaries(names, json_values, max_size=3)).map(lambda d: ("prediction.logged", d)),
    st.builds(FeedbackLogged, request_id=text, true_label=st.none() | text, signal=st.none() | text,
              received_at=aware_datetimes).map(lambda d: ("feedback.logged", d)),
)
envelopes = st.builds(
    lambda typed, dataset, workspace, event_id: new_event(typed[0], typed[1], dataset=dataset, workspace=workspace,
                                                          event_id=event_id),
    payloads, st.none() | names, st.none() | names, st.uuids(),
)


def _decode_or_refuse(raw: bytes) -> None:
    try:
        event = decode_event(raw)
    except EventDecodeError:
        return
    assert event.type in EVENT_TYPES


# --------------------------------------------------------------------------- decode_event
@FAST
@given(st.binary(max_size=300))
@example(b"[" * 100_000)  # nested too deeply for the JSON parser
@example(b"\xff\xfe{}")
@example(json.dumps({"type": "record.ingested", "schema_version": "9" * 5000 + ".0"}).encode())
@example(json.dumps({"type": "record.ingested", "schema_version": "\u00b2.0"}).encode())  # "²".isdigit() is True
@example(json.dumps({"type": "record.ingested", "schema_version": 1.0}).encode())
@example(b"null")
def test_arbitrary_bytes_raise_only_event_decode_error(raw: bytes) -> None:
    _decode_or_refuse(raw)


@FAST
@given(
    event_type=st.sampled_from(sorted(EVENT_TYPES)) | text,
    schema_version=st.sampled_from(["1.0", "1.7", "01.0"]) | text | json_values,
    event_id=st.uuids().map(str) | json_values,
    data=json_values,
    extra=st.dictionaries(text, json_values, max_size=3),
)
def test_json_objects_of_any_shape_raise_only_event_decode_error(
    event_type: Any, schema_version: Any, event_id: Any, data: Any, extra: dict[str, Any]
) -> None:
    document = {**extra, "type": event_type, "schema_version": schema_version, "event_id": event_id, "data": data}
    _decode_or_refuse(json.dumps(document).encode())


@FAST
@given(envelopes)
def test_valid_envelopes_round_trip(event: Any) -> None:
    decoded = decode_event(encode_event(event))
    assert decoded == event
    assert type(decoded.data) is type(event.data)


@FAST
@given(envelopes, st.dictionaries(st.text(min_size=1, max_size=10).map(lambda s: f"zz_{s}"), json_values, max_size=3),
       st.integers(0, 999))
def test_unknown_fields_and_newer_minor_versions_are_accepted(event: Any, extra: dict[str, Any], minor: int) -> None:
    document = json.loads(encode_event(event))
    document.update(extra)
    document["data"].update(extra)
    document["schema_version"] = f"1.{minor}"
    decoded = decode_event(json.dumps(document).encode())
    assert decoded.data == event.data and decoded.event_id == event.event_id


@FAST
@given(envelopes, st.integers(0, 10**30).filter(lambda major: major != 1), st.integers(0, 99))
def test_unknown_major_versions_are_refused(event: Any, major: int, minor: int) -> None:
    document = json.loads(encode_event(event))
    document["schema_version"] = f"{major}.{minor}"
    with pytest.raises(EventDecodeError, match="unsupported schema_version"):
        decode_event(json.dumps(document).encode())


@FAST
@given(envelopes, st.sampled_from(sorted(EVENT_TYPES)))
def test_payload_of_another_type_is_refused_or_still_valid_for_it(event: Any, other_type: str) -> None:
    """Relabelled envelopes never come back as the wrong payload model."""
    document = json.loads(encode_event(event))
    document["type"] = other_type
    try:
        decoded = decode_event(json.dumps(document).encode())
    except EventDecodeError:
        return
    assert isinstance(decoded.data, EVENT_TYPES[other_type][1])


# --------------------------------------------------------------------------- DatasetSpec
def _spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "workspace": "ws",
        "name": "reviews",
        "fields": [{"name": "text"}],
        "questions": [{"name": "sentiment", "type": "label", "labels": ["neg", "pos"]}],
    }
    return {**base, **overrides}


unique_names = st.lists(names, min_size=1, max_size=5, unique=True)


@FAST
@given(unique_names, st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=6, unique=True))
def test_valid_specs_round_trip_through_documents(field_names: list[str], labels: list[str]) -> None:
    spec = DatasetSpec.model_validate(
        _spec(fields=[{"name": n} for n in field_names],
              questions=[{"name": "q", "type": "multi_label", "labels": labels}])
    )
    document = spec.model_dump()
    document["_id"] = document.pop("id")
    assert DatasetSpec.from_document(document) == spec


@FAST
@given(unique_names, st.sampled_from(["fields", "questions", "metadata_properties"]), st.data())
def test_duplicate_names_are_rejected(base_names: list[str], section: str, data: st.DataObject) -> None:
    duplicated = base_names + [data.draw(st.sampled_from(base_names))]
    items = {
        "fields": [{"name": n} for n in duplicated],
        "questions": [{"name": n, "type": "text"} for n in duplicated],
        "metadata_properties": [{"name": n, "type": "terms"} for n in duplicated],
    }[section]
    with pytest.raises(ValidationError, match="names must be unique"):
        DatasetSpec.model_validate(_spec(**{section: items}))


@FAST
@given(st.sampled_from(["label", "multi_label"]),
       st.lists(st.text(max_size=8), max_size=1) | st.text(max_size=8).map(lambda label: [label, label]))
def test_label_questions_need_two_distinct_labels(kind: str, labels: list[str]) -> None:
    with pytest.raises(ValidationError, match="at least two distinct labels"):
        DatasetSpec.model_validate(_spec(questions=[{"name": "q", "type": kind, "labels": labels}]))


@FAST
@given(st.dictionaries(text, json_values, max_size=6))
def test_arbitrary_documents_raise_only_validation_error(document: dict[str, Any]) -> None:
    try:
        DatasetSpec.from_document(document)
    except ValidationError:
        pass


# --------------------------------------------------------------------------- API keys
@FAST
@given(st.text(max_size=80) | st.text(max_size=60).map(lambda s: KEY_PREFIX + s))
@example("cs_0123456789abcdef_")
@example("cs__secret")
def test_parse_api_key_never_raises_and_only_accepts_the_shape(plaintext: str) -> None:
    parsed = parse_api_key(plaintext)
    if parsed is None:
        return
    key_id, secret = parsed
    assert plaintext == f"{KEY_PREFIX}{key_id}_{secret}"
    assert len(key_id) == 16 and "_" not in key_id and secret


@settings(max_examples=20, deadline=None, database=None)
@given(st.text(max_size=40))
def test_generated_keys_parse_and_only_their_secret_matches(wrong_secret: str) -> None:
    key = generate_api_key()
    assert parse_api_key(key.plaintext) is not None
    key_id, secret = parse_api_key(key.plaintext)  # type: ignore[misc]
    assert key_id == key.key_id and secret_matches(secret, key.secret_sha256)
    assert secret not in key.secret_sha256
    if wrong_secret != secret:
        assert not secret_matches(wrong_secret, key.secret_sha256)
