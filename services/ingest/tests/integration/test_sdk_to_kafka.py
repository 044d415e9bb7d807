"""Records, predictions and feedback logged through the SDK reach Kafka; re-sent batches keep their ids."""

from __future__ import annotations

from claystream import Client
from claystream_common.datasets import record_id_for
from claystream_devstack.servers import EmbeddedStack
from ingest_stack import RunningIngest, TopicTail, envelope_of


def test_records_arrive_once_per_external_id_and_a_resent_batch_keeps_the_ids(
    ingest_server: RunningIngest, embedded_stack: EmbeddedStack
) -> None:
    rows = [{"id": f"r{i}", "text": f"review number {i}", "year": 1990 + i} for i in range(30)]
    tail = TopicTail(embedded_stack.ports.kafka_bootstrap, "records").start()
    with Client(ingest_server.url, ingest_server.api_key) as client:
        first = client.log(rows, ingest_server.dataset, fields=["text"], metadata=["year"], batch_size=8, progress=False)
        again = client.log(rows[:8], ingest_server.dataset, fields=["text"], metadata=["year"], progress=False)
    expected = [record_id_for(ingest_server.workspace, ingest_server.dataset, f"r{i}") for i in range(30)]
    assert first.accepted == 30 and first.ids == expected
    assert again.ids == expected[:8]

    sent = {f"r{i}" for i in range(30)}
    documents = tail.read(where={"workspace": ingest_server.workspace}, expect=38,
                          match=lambda d: d["data"]["external_id"] in sent)
    assert len(documents) == 38  # at-least-once transport: the re-sent batch is delivered again ...
    ids = [d["data"]["record_id"] for d in documents]
    assert set(ids) == set(expected)  # ... but under the same ids, so consumers upsert it once
    assert sorted(ids.count(i) for i in set(ids)) == [1] * 22 + [2] * 8
    for document in documents:
        envelope = envelope_of(document)
        assert envelope.dataset == ingest_server.dataset
        assert document["_key"] == envelope.data.record_id.encode()
        assert document["_headers"]["event-type"] == b"record.ingested"
        assert "traceparent" in document["_headers"]
    by_external = {d["data"]["external_id"]: d["data"] for d in documents}
    assert by_external["r3"]["fields"] == {"text": "review number 3"} and by_external["r3"]["metadata"] == {"year": 1993}


def test_predictions_and_feedback_reach_their_topics(ingest_server: RunningIngest, embedded_stack: EmbeddedStack) -> None:
    predictions = TopicTail(embedded_stack.ports.kafka_bootstrap, "predictions").start()
    feedback = TopicTail(embedded_stack.ports.kafka_bootstrap, "feedback").start()
    with Client(ingest_server.url, ingest_server.api_key) as client:
        single = client.log_prediction("req-1", model="sentiment", text="great", predicted_label="positive",
                                       scores={"positive": 0.8, "negative": 0.2}, model_version="v1")
        bulk = client.log_predictions([{"request_id": f"req-{i}", "model": "sentiment", "text": "meh",
                                        "predicted_label": "negative"} for i in range(2, 12)], batch_size=4)
        client.log_feedback("req-1", true_label="negative", signal="thumbs_down")
    logged = predictions.read(where={"workspace": ingest_server.workspace}, expect=11,
                              match=lambda d: d["data"]["request_id"].startswith("req-"))
    assert len(logged) == 11 and bulk.accepted == 10
    assert {d["event_id"] for d in logged} == {single, *bulk.ids}
    assert {d["data"]["request_id"] for d in logged} == {f"req-{i}" for i in range(1, 12)}
    [signal] = feedback.read(where={"workspace": ingest_server.workspace}, expect=1)
    assert envelope_of(signal).data.signal == "thumbs_down"


def test_the_readme_three_line_imdb_import(ingest_server: RunningIngest, embedded_stack: EmbeddedStack) -> None:
    import pytest

    from claystream.datasets_local import load_imdb
    from claystream_devstack.pytest_plugin import shared_data_dir

    if not (shared_data_dir() / "imdb" / "unsup.jsonl.gz").exists():
        pytest.skip("shared IMDb data not present")
    tail = TopicTail(embedded_stack.ports.kafka_bootstrap, "records").start()
    sample = load_imdb("unsupervised", data_dir=shared_data_dir() / "imdb").shuffle(seed=42).select(range(100))
    result = Client(ingest_server.url, api_key=ingest_server.api_key).log(sample, dataset=ingest_server.dataset)
    assert result.accepted == 100
    sent = set(sample["id"])
    documents = tail.read(where={"workspace": ingest_server.workspace}, expect=100,
                          match=lambda d: d["data"]["external_id"] in sent)
    assert sorted(d["data"]["external_id"] for d in documents) == sorted(sample["id"])
    assert {d["data"]["fields"]["text"] for d in documents} == set(sample["text"])


def test_an_oversized_record_fails_at_once_and_the_sdk_does_not_retry(ingest_server: RunningIngest) -> None:
    """Issue 17 finding 10, SDK against the real ingest: a permanent 422 naming the record and the limit."""
    import pytest

    from claystream import ValidationFailed

    sleeps: list[float] = []
    rows = [{"id": "fine", "text": "short"}, {"id": "too-big", "text": "x" * (ingest_server.settings.record_limit_bytes + 10)}]
    with Client(ingest_server.url, ingest_server.api_key, sleep=sleeps.append) as client, pytest.raises(ValidationFailed) as caught:
        client.log(rows, ingest_server.dataset, fields=["text"], progress=False)
    assert caught.value.status_code == 422 and sleeps == [], "no retry of a permanent refusal"
    [error] = caught.value.body["errors"]
    assert error["index"] == 1 and "record too-big" in error["reason"] and f"at most {ingest_server.settings.record_limit_bytes} bytes" in error["reason"]
