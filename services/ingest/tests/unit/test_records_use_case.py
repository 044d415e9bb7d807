"""ingest_records: 404 / 422 all-or-nothing / partial / deterministic ids / 503, with fakes of the ports."""

from __future__ import annotations

from typing import Any

import pytest

from claystream_common.datasets import record_id_for
from claystream_ingest.services.auth import Principal
from claystream_ingest.services.errors import InvalidItems, KafkaUnavailable, NotFound
from claystream_ingest.services.records import ingest_records
from claystream_ingest.services.validation import ValidatorCache
from ingest_fakes import FakeCatalog, RecordingPublisher, imdb_spec

ACME = Principal(workspace="acme", subject="0123456789abcdef", role="annotator")


async def ingest(body: Any, publisher: RecordingPublisher, *, dataset: str = "reviews", partial: bool = False,
                 principal: Principal = ACME, max_items: int = 1000) -> Any:
    return await ingest_records(
        body, dataset=dataset, principal=principal, partial=partial, catalog=FakeCatalog(imdb_spec()),
        validators=ValidatorCache(), publisher=publisher, max_items=max_items, publish_timeout_s=1.0,
    )


def items(*ids: str) -> dict[str, Any]:
    return {"items": [{"external_id": i, "fields": {"text": f"review {i}"}} for i in ids]}


async def test_accepted_records_are_published_with_contract_ids_in_order() -> None:
    publisher = RecordingPublisher()
    result = await ingest(items("a", "b"), publisher)
    assert result.ids == [record_id_for("acme", "reviews", "a"), record_id_for("acme", "reviews", "b")]
    documents = publisher.documents("records")
    assert [d["data"]["record_id"] for d in documents] == result.ids
    assert {(d["type"], d["workspace"], d["dataset"], d["data"]["origin"]) for d in documents} == {
        ("record.ingested", "acme", "reviews", "api")}
    assert [event.key.decode() for _, event in publisher.published] == result.ids


async def test_resending_a_batch_gives_the_same_ids() -> None:
    publisher = RecordingPublisher()
    first = await ingest(items("a", "b"), publisher)
    second = await ingest(items("a", "b"), publisher)
    assert first.ids == second.ids
    assert len({d["data"]["record_id"] for d in publisher.documents()}) == 2


async def test_unknown_dataset_is_404_and_other_workspaces_do_not_see_it() -> None:
    with pytest.raises(NotFound, match="dataset 'nope' not found in workspace 'acme'"):
        await ingest(items("a"), RecordingPublisher(), dataset="nope")
    with pytest.raises(NotFound, match="dataset 'reviews' not found in workspace 'globex'"):
        await ingest(items("a"), RecordingPublisher(), principal=Principal("globex", "k", "annotator"))


async def test_one_bad_record_rejects_the_whole_batch_and_publishes_nothing() -> None:
    publisher = RecordingPublisher()
    body = items("a", "b")
    body["items"][1]["fields"] = {"text": ""}
    with pytest.raises(InvalidItems) as caught:
        await ingest(body, publisher)
    assert caught.value.status_code == 422
    assert caught.value.body() == {
        "detail": "1 of 2 records are invalid; nothing was accepted (fix them, or send ?partial=true)",
        "errors": [{"index": 1, "field": "fields.text", "reason": "required field is empty"}],
    }
    assert publisher.published == []


async def test_partial_accepts_the_good_records_and_lists_the_rejected() -> None:
    publisher = RecordingPublisher()
    body = items("a", "b", "c")
    body["items"][1]["metadata"] = {"genre": "horror"}
    result = await ingest(body, publisher, partial=True)
    assert result.accepted == 2
    assert result.ids == [record_id_for("acme", "reviews", "a"), record_id_for("acme", "reviews", "c")]
    assert result.rejected == [{"index": 1, "field": "metadata.genre",
                                "reason": "'horror' is not one of the allowed terms: comedy, drama"}]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ([], [{"index": None, "field": "", "reason": 'expected {"items": [...]}'}]),
        ({}, [{"index": None, "field": "items", "reason": "required property is missing"}]),
        ({"items": {}}, [{"index": None, "field": "items", "reason": "must be a list of records"}]),
        ({"items": []}, [{"index": None, "field": "items", "reason": "must contain at least one of the records"}]),
        (items("a", "b", "c"), [{"index": None, "field": "items",
                                 "reason": "at most 2 records per request (got 3); split the batch"}]),
        (items("a") | {"dataset": "x"}, [{"index": None, "field": "dataset", "reason": "unknown property"}]),
    ],
)
async def test_malformed_bodies_are_422_naming_the_problem(body: Any, errors: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidItems) as caught:
        await ingest(body, RecordingPublisher(), max_items=2)
    assert caught.value.errors == errors


async def test_kafka_failure_is_503_and_says_nothing_was_accepted() -> None:
    publisher = RecordingPublisher()
    publisher.fail = True
    with pytest.raises(KafkaUnavailable) as caught:
        await ingest(items("a"), publisher)
    assert caught.value.status_code == 503
    body = caught.value.body()
    assert body["accepted"] == 0 and body["retryable"] is True
    assert body["detail"].startswith("Kafka is unavailable: the request was not accepted; retry later")
    assert "KafkaConnectionError" in body["reason"]


async def test_no_acknowledgement_in_time_is_503() -> None:
    class Hanging(RecordingPublisher):
        async def publish_encoded(self, topic: str, events: Any) -> None:
            import asyncio

            await asyncio.sleep(10)

    with pytest.raises(KafkaUnavailable, match="Kafka is unavailable"):
        await ingest_records(
            items("a"), dataset="reviews", principal=ACME, partial=False, catalog=FakeCatalog(imdb_spec()),
            validators=ValidatorCache(), publisher=Hanging(), max_items=10, publish_timeout_s=0.05,
        )


async def test_monitor_samples_keep_their_origin_and_undeclared_metadata() -> None:
    publisher = RecordingPublisher()
    service = Principal(workspace="acme", subject="service", role="service")
    body = {"items": [
        {"external_id": "m1", "fields": {"text": "x"}, "origin": "monitor",
         "metadata": {"model": "sentiment", "score": 0.4, "request_id": "q1"},
         "suggestions": [{"question": "sentiment", "value": "negative", "score": 0.4, "agent": "monitor"}]},
        {"external_id": "m2", "fields": {"text": "y"}},
    ]}
    await ingest(body, publisher, principal=service)
    first, second = (d["data"] for d in publisher.documents())
    assert first["origin"] == "monitor" and second["origin"] == "service"
    assert first["metadata"] == {"model": "sentiment", "score": 0.4, "request_id": "q1"}


async def test_an_oversized_record_is_a_permanent_422_naming_it_and_the_limit() -> None:
    """Issue 17 finding 10: not a retryable 503 (a retry can only fail the same way)."""
    publisher = RecordingPublisher()
    body = {"items": [{"external_id": "small", "fields": {"text": "fine"}}, {"external_id": "huge", "fields": {"text": "x" * 5000}}]}
    with pytest.raises(InvalidItems) as caught:
        await ingest_records(body, dataset="reviews", principal=ACME, partial=False, catalog=FakeCatalog(imdb_spec()),
                             validators=ValidatorCache(), publisher=publisher, max_items=10, publish_timeout_s=1.0, max_record_bytes=4096)
    assert caught.value.status_code == 422 and publisher.published == []
    [error] = caught.value.errors or []
    assert error["index"] == 1 and "record huge" in error["reason"] and "at most 4096 bytes" in error["reason"]
    accepted = await ingest_records(body, dataset="reviews", principal=ACME, partial=True, catalog=FakeCatalog(imdb_spec()),
                                    validators=ValidatorCache(), publisher=publisher, max_items=10, publish_timeout_s=1.0, max_record_bytes=4096)
    assert accepted.accepted == 1 and accepted.ids == [record_id_for("acme", "reviews", "small")] and accepted.rejected[0]["index"] == 1


async def test_a_batch_the_broker_refuses_as_too_large_is_413_not_503() -> None:
    from aiokafka.errors import MessageSizeTooLargeError
    from claystream_common.kafka.producer import PublishError
    from claystream_ingest.services.errors import PayloadTooLarge

    class Refusing(RecordingPublisher):
        async def publish_encoded(self, topic: str, events: Any) -> None:
            try:
                raise MessageSizeTooLargeError("too large")
            except MessageSizeTooLargeError as error:
                raise PublishError(f"Kafka did not acknowledge the publish: {error!r}") from error

    with pytest.raises(PayloadTooLarge) as caught:
        await ingest(items("a"), Refusing())
    assert caught.value.status_code == 413
