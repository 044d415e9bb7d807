"""The hot-path encoder writes exactly what the contract's decoder reads, with contract ids."""

from __future__ import annotations

import os
import uuid

from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from claystream_common.datasets import record_id_for
from claystream_common.events import FeedbackLogged, PredictionLogged, RecordIngested, decode_event
from claystream_ingest.adapters.kafka_bulk_publisher import murmur2, murmur2_many, partitions_for
from claystream_ingest.services.encoding import encode_events, event_ids, record_ids


def test_record_ids_equal_the_contract_function() -> None:
    external = ["1", "r-42", "ünïcødé ✓", "x" * 256, "a\x1fb"]
    assert record_ids("acme", "reviews", external) == [record_id_for("acme", "reviews", e) for e in external]
    assert record_ids("acme", "other", ["1"]) != record_ids("acme", "reviews", ["1"])


def test_records_without_external_id_get_fresh_random_ids() -> None:
    first, second = record_ids("acme", "reviews", [None, None])
    assert first != second
    assert uuid.UUID(first).version == 4


def test_event_ids_are_distinct_uuid4_strings() -> None:
    ids = event_ids(500)
    assert len(set(ids)) == 500
    assert all(uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value for value in ids)


def test_encoded_records_decode_as_record_ingested_envelopes() -> None:
    payload = {"record_id": "rid-1", "external_id": "1", "fields": {"text": "Great \"film\" \u2603"},
               "metadata": {"year": 1999}, "suggestions": [{"question": "sentiment", "value": "positive",
                                                            "score": 0.5, "agent": None, "model_version": None}],
               "vectors": {}, "origin": "api"}
    [event] = encode_events("record.ingested", [payload], ["rid-1"], workspace="acme", dataset="reviews",
                            occurred_at="2026-01-31T12:00:00+00:00", traceparent=None)
    envelope = decode_event(event.value, expected_types={"record.ingested"})
    assert isinstance(envelope.data, RecordIngested)
    assert (envelope.workspace, envelope.dataset, str(envelope.event_id)) == ("acme", "reviews", event.event_id)
    assert envelope.data.fields == {"text": "Great \"film\" \u2603"}
    assert envelope.data.suggestions[0].value == "positive"
    assert event.key == b"rid-1"


def test_encoded_predictions_and_feedback_decode() -> None:
    [prediction] = encode_events(
        "prediction.logged",
        [{"request_id": "q1", "model": "m", "model_version": None, "text": "t", "predicted_label": "positive",
          "scores": {"positive": 0.7}, "metadata": {}, "predicted_at": "2026-01-31T12:00:00+00:00"}],
        ["q1"], workspace="acme", dataset=None, occurred_at="2026-01-31T12:00:00+00:00", traceparent=None,
    )
    [feedback] = encode_events(
        "feedback.logged",
        [{"request_id": "q1", "model": None, "true_label": None, "signal": "thumbs_down",
          "received_at": "2026-01-31T12:00:00+00:00"}],
        ["q1"], workspace="acme", dataset="reviews", occurred_at="2026-01-31T12:00:00+00:00", traceparent=None,
    )
    assert isinstance(decode_event(prediction.value).data, PredictionLogged)
    assert decode_event(feedback.value).data == FeedbackLogged(
        request_id="q1", signal="thumbs_down", received_at="2026-01-31T12:00:00+00:00")


def test_partitioning_matches_the_default_kafka_partitioner() -> None:
    keys = [os.urandom(n) for n in range(64) for _ in range(8)] + [b"0ab30340-fa45-58c4-8d59-5bedf7df54da"]
    expected = [aiokafka_murmur2(key) & 0x7FFFFFFF for key in keys]
    assert [h & 0x7FFFFFFF for h in murmur2_many(keys)] == expected
    assert [murmur2(key) & 0x7FFFFFFF for key in keys] == expected
    assert partitions_for(keys, [0, 1, 2, 3]) == [h % 4 for h in expected]
