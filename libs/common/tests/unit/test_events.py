"""The envelope and typed events: round trip, and every way a payload can be refused."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from claystream_common.events import (
    EVENT_TYPES,
    EventDecodeError,
    FeedbackLogged,
    RecordIngested,
    ResponseChanged,
    decode_event,
    encode_event,
    envelope_model,
    new_event,
    topic_for,
)
from claystream_common.topics import Topic


def _record() -> RecordIngested:
    return RecordIngested(record_id="r1", external_id="ext-1", fields={"text": "great film"}, metadata={"lang": "en"})


def _document(**changes: object) -> dict[str, object]:
    document = json.loads(encode_event(new_event("record.ingested", _record(), dataset="reviews", workspace="acme")))
    document.update(changes)
    return document


def test_encode_decode_round_trip_keeps_every_field() -> None:
    event = new_event(
        "record.ingested",
        _record(),
        dataset="reviews",
        workspace="acme",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    decoded = decode_event(encode_event(event))
    assert decoded == event
    assert isinstance(decoded.data, RecordIngested)
    assert decoded.data.fields == {"text": "great film"}
    assert decoded.occurred_at == event.occurred_at and decoded.occurred_at.tzinfo is not None
    assert decoded.major_version == 1


def test_every_event_type_is_dotted_and_routed_to_a_registered_topic() -> None:
    for event_type, (topic, model) in EVENT_TYPES.items():
        assert re.fullmatch(r"[a-z][a-z_]*(\.[a-z][a-z_]*)+", event_type), event_type
        assert isinstance(topic, Topic)
        assert topic_for(event_type) is topic
        assert envelope_model(event_type) is envelope_model(event_type)  # parametrised once
        assert envelope_model(event_type).model_fields["data"].annotation is model


def test_new_event_refuses_the_wrong_payload_model() -> None:
    with pytest.raises(TypeError, match="record.ingested carries RecordIngested"):
        new_event("record.ingested", FeedbackLogged(request_id="x"))


def test_unknown_optional_fields_are_ignored_and_newer_minor_versions_accepted() -> None:
    document = _document(schema_version="1.7", added_later="ignored")
    document["data"]["new_optional_field"] = [1, 2]  # type: ignore[index]
    decoded = decode_event(json.dumps(document).encode())
    assert decoded.schema_version == "1.7"
    assert not hasattr(decoded.data, "new_optional_field")


def test_each_event_type_decodes_into_its_own_model() -> None:
    changed = ResponseChanged(response_id="x", record_id="r1", user_id="u1", status="submitted", values={"label": "pos"})
    decoded = decode_event(encode_event(new_event("response.submitted", changed)))
    assert isinstance(decoded.data, ResponseChanged) and decoded.data.values == {"label": "pos"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty message value"),
        (b"\xff\xfe\x00", "undecodable payload"),
        (b"{not json", "undecodable payload"),
        (b"[1, 2, 3]", "not a JSON object"),
        (json.dumps(_document(type="record.exploded")).encode(), "unknown event type: 'record.exploded'"),
        (json.dumps(_document(type=None)).encode(), "unknown event type: None"),
        (json.dumps(_document(schema_version="2.0")).encode(), "unsupported schema_version '2.0'"),
        (json.dumps(_document(schema_version="0.9")).encode(), "unsupported schema_version '0.9'"),
        (json.dumps(_document(schema_version=1)).encode(), "schema_version must be a string"),
    ],
)
def test_refused_messages_raise_event_decode_error_with_the_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw)
    assert reason in str(caught.value)


def test_a_schema_invalid_payload_names_the_field_and_the_reason() -> None:
    document = _document()
    del document["data"]["fields"]  # type: ignore[attr-defined]
    document["data"]["record_id"] = 42  # type: ignore[index]
    with pytest.raises(EventDecodeError) as caught:
        decode_event(json.dumps(document).encode())
    message = str(caught.value)
    assert message.startswith("invalid record.ingested:")
    assert "data.fields: Field required" in message
    assert "data.record_id: Input should be a valid string" in message


def test_an_invalid_envelope_field_is_refused() -> None:
    with pytest.raises(EventDecodeError, match="event_id"):
        decode_event(json.dumps(_document(event_id="not-a-uuid")).encode())
    with pytest.raises(EventDecodeError, match="occurred_at"):
        decode_event(json.dumps(_document(occurred_at="yesterday")).encode())


def test_expected_types_guard_a_topic() -> None:
    raw = encode_event(new_event("record.ingested", _record()))
    with pytest.raises(EventDecodeError, match="unexpected event type"):
        decode_event(raw, expected_types={"response.submitted"})
    assert decode_event(raw, expected_types={"record.ingested"}).type == "record.ingested"


def test_event_ids_are_unique_unless_given() -> None:
    given = uuid.uuid4()
    assert new_event("record.ingested", _record(), event_id=given).event_id == given
    assert new_event("record.ingested", _record()).event_id != new_event("record.ingested", _record()).event_id
