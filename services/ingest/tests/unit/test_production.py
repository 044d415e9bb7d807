"""Predictions and feedback: validation rules (exact errors) and what is published."""

from __future__ import annotations

from typing import Any

import pytest
from claystream_common.events import decode_event
from claystream_ingest.services.auth import Principal
from claystream_ingest.services.errors import InvalidItems
from claystream_ingest.services.production import log_feedback, log_predictions
from claystream_ingest.services.production_validation import validate_feedback, validate_predictions
from ingest_fakes import FakeCatalog, RecordingPublisher, imdb_spec

CATALOG = FakeCatalog(imdb_spec())

NOW = "2026-01-31T12:00:00+00:00"
ACME = Principal(workspace="acme", subject="k", role="annotator")
PREDICTION = {"request_id": "q1", "model": "sentiment", "text": "great", "predicted_label": "positive"}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (PREDICTION | {"request_id": None}, [{"index": 0, "field": "request_id", "reason": "required property is missing"}]),
        (PREDICTION | {"model": 3}, [{"index": 0, "field": "model", "reason": "must be a non-empty string"}]),
        (PREDICTION | {"request_id": "x" * 257}, [{"index": 0, "field": "request_id", "reason": "must be at most 256 characters"}]),
        ({k: v for k, v in PREDICTION.items() if k != "text"}, [{"index": 0, "field": "text", "reason": "required property is missing"}]),
        (PREDICTION | {"predicted_label": ""}, [{"index": 0, "field": "predicted_label", "reason": "must be a non-empty string"}]),
        (PREDICTION | {"scores": {"positive": "high"}}, [{"index": 0, "field": "scores", "reason": "must be an object of label to number"}]),
        (PREDICTION | {"metadata": [1]}, [{"index": 0, "field": "metadata", "reason": "must be an object"}]),
        (PREDICTION | {"predicted_at": "yesterday"}, [{"index": 0, "field": "predicted_at",
                                                       "reason": "must be an ISO-8601 timestamp, e.g. 2026-01-31T12:00:00Z"}]),
        (PREDICTION | {"label": "x"}, [{"index": 0, "field": "label", "reason":
                                        "unknown property (allowed: dataset, metadata, model, model_version, predicted_at, "
                                        "predicted_label, request_id, scores, text)"}]),
        ("q1", [{"index": 0, "field": "", "reason": "prediction must be a JSON object"}]),
        # the monitor's key is workspace|model|version: names that would merge two models into one are refused
        (PREDICTION | {"model": "p|q"}, [{"index": 0, "field": "model", "reason": "may not contain '|'"}]),
        (PREDICTION | {"model_version": "q|v1"}, [{"index": 0, "field": "model_version", "reason": "may not contain '|'"}]),
        (PREDICTION | {"model": "p\u202eq"}, [{"index": 0, "field": "model", "reason": "may not contain control or formatting characters"}]),
        (PREDICTION | {"model_version": "v1\n"}, [{"index": 0, "field": "model_version", "reason": "may not contain control or formatting characters"}]),
        (PREDICTION | {"model_version": "-"}, [{"index": 0, "field": "model_version",
                                                "reason": "'-' stands for no version: leave model_version out instead"}]),
    ],
)
def test_prediction_rules(item: Any, expected: list[dict[str, Any]]) -> None:
    good, errors = validate_predictions([item], now=NOW)
    assert (good, errors) == ([], expected)


def test_a_prediction_is_normalised_with_defaults() -> None:
    good, errors = validate_predictions([PREDICTION | {"predicted_at": "2026-01-31T10:00:00"}], now=NOW)
    assert errors == []
    assert good == [(0, PREDICTION | {"model_version": None, "scores": {}, "metadata": {},
                                      "predicted_at": "2026-01-31T10:00:00+00:00", "dataset": None})]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"request_id": "q1"}, [{"index": 0, "field": "true_label", "reason": "give true_label or signal (or both)"}]),
        ({"true_label": "x"}, [{"index": 0, "field": "request_id", "reason": "required property is missing"}]),
        ({"request_id": "q1", "signal": ""}, [{"index": 0, "field": "signal", "reason": "must be a non-empty string"}]),
        ({"request_id": "q1", "signal": "up", "received_at": 5},
         [{"index": 0, "field": "received_at", "reason": "must be an ISO-8601 timestamp, e.g. 2026-01-31T12:00:00Z"}]),
    ],
)
def test_feedback_rules(item: Any, expected: list[dict[str, Any]]) -> None:
    assert validate_feedback([item], now=NOW) == ([], expected)


async def test_predictions_are_published_keyed_by_model_in_item_order() -> None:
    """Keyed by model: one partition, so one monitor replica, sees a model's whole stream in order."""
    publisher = RecordingPublisher()
    items = [PREDICTION | {"request_id": f"q{i}", "dataset": "reviews" if i % 2 else None,
                           "model": "sentiment" if i < 3 else "topics"} for i in range(4)]
    result = await log_predictions(items, principal=ACME, partial=False, publisher=publisher, publish_timeout_s=1, catalog=CATALOG)
    assert result.accepted == 4
    assert [event.key for _, event in publisher.published] == [b"acme/sentiment"] * 3 + [b"acme/topics"]
    feedback = RecordingPublisher()
    await log_feedback([{"request_id": "q1", "signal": "thumbs_down", "model": "sentiment"},
                        {"request_id": "q2", "signal": "thumbs_up"}], principal=ACME, partial=False,
                       publisher=feedback, publish_timeout_s=1, catalog=CATALOG)
    assert [event.key for _, event in feedback.published] == [b"acme/sentiment", b"q2"]  # no model: the request id
    assert [event.event_id for _, event in publisher.published] == result.ids
    envelopes = [decode_event(event.value) for _, event in publisher.published]
    assert [(e.type, e.workspace, e.dataset) for e in envelopes] == [
        ("prediction.logged", "acme", None), ("prediction.logged", "acme", "reviews")] * 2
    assert {topic for topic, _ in publisher.published} == {"predictions"}


async def test_production_traffic_naming_an_unknown_dataset_is_refused_and_nothing_published() -> None:
    from claystream_ingest.services.errors import NotFound

    publisher = RecordingPublisher()
    with pytest.raises(NotFound, match="dataset 'nope' not found in workspace 'acme'"):
        await log_predictions([PREDICTION | {"dataset": "nope"}], principal=ACME, partial=False, publisher=publisher,
                              publish_timeout_s=1, catalog=CATALOG)
    with pytest.raises(NotFound):
        await log_feedback([{"request_id": "q1", "signal": "thumbs_down", "dataset": "nope"}], principal=ACME,
                           partial=False, publisher=publisher, publish_timeout_s=1, catalog=CATALOG)
    assert publisher.published == []


async def test_bad_predictions_reject_the_batch_unless_partial() -> None:
    publisher = RecordingPublisher()
    items = [PREDICTION, PREDICTION | {"text": None}]
    with pytest.raises(InvalidItems, match="1 of 2 predictions are invalid"):
        await log_predictions(items, principal=ACME, partial=False, publisher=publisher, publish_timeout_s=1, catalog=CATALOG)
    assert publisher.published == []
    result = await log_predictions(items, principal=ACME, partial=True, publisher=publisher, publish_timeout_s=1, catalog=CATALOG)
    assert result.accepted == 1 and result.rejected[0]["index"] == 1


async def test_feedback_is_published_to_its_topic() -> None:
    publisher = RecordingPublisher()
    result = await log_feedback([{"request_id": "q1", "signal": "thumbs_down", "model": "sentiment"}],
                                principal=ACME, partial=False, publisher=publisher, publish_timeout_s=1, catalog=CATALOG)
    [(topic, event)] = publisher.published
    assert topic == "feedback" and result.ids == [event.event_id]
    envelope = decode_event(event.value)
    assert envelope.type == "feedback.logged" and envelope.data.signal == "thumbs_down"


async def test_a_prediction_too_large_for_one_event_is_a_422_naming_it() -> None:
    """Issue 17 finding 10, production traffic too: permanent, so never a retryable 503."""
    publisher = RecordingPublisher()
    items = [PREDICTION, PREDICTION | {"request_id": "huge", "text": "x" * 5000}]
    with pytest.raises(InvalidItems) as caught:
        await log_predictions(items, principal=ACME, partial=False, publisher=publisher, publish_timeout_s=1, catalog=CATALOG,
                              max_event_bytes=4096)
    [error] = caught.value.errors or []
    assert error["index"] == 1 and "prediction huge" in error["reason"] and "at most 4096 bytes per prediction" in error["reason"]
    assert publisher.published == []
    result = await log_predictions(items, principal=ACME, partial=True, publisher=publisher, publish_timeout_s=1, catalog=CATALOG,
                                   max_event_bytes=4096)
    assert result.accepted == 1 and [e.key for _, e in publisher.published] == [b"acme/sentiment"] and result.rejected[0]["index"] == 1
