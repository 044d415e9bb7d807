"""Client.log / log_prediction(s) / log_feedback against a fake ingest service (httpx.MockTransport)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pandas as pd
import pytest
from datasets import Dataset

from claystream import ApiError, Client, ValidationFailed


class FakeIngest:
    """Answers like the ingest service; scripted failures first."""

    def __init__(self, *failures: httpx.Response) -> None:
        self.failures = list(failures)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failures:
            return self.failures.pop(0)
        body = json.loads(request.content) if request.content else None
        if request.url.path == "/api/v1/me":
            return httpx.Response(200, json={"workspace": "acme", "key_id": "k", "role": "annotator"})
        if request.url.path.endswith("records:bulk"):
            return httpx.Response(202, json={"accepted": len(body["items"]), "rejected": [],
                                             "record_ids": [f"id-{i['external_id']}" for i in body["items"]]})
        items = body["items"] if "items" in body else [body]
        return httpx.Response(202, json={"accepted": len(items), "event_ids": [f"ev-{i['request_id']}" for i in items]})

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests if r.content]


def client_for(fake: FakeIngest, sleeps: list[float] | None = None) -> Client:
    return Client("http://ingest", "cs_0123456789abcdef_s", transport=httpx.MockTransport(fake),
                  sleep=(sleeps.append if sleeps is not None else (lambda s: None)))


def test_records_are_sent_in_batches_with_ids_in_input_order() -> None:
    fake = FakeIngest()
    rows = [{"id": i, "text": f"t{i}"} for i in range(2500)]
    result = client_for(fake).log(rows, "reviews", progress=False, concurrency=3)
    assert [len(b["items"]) for b in fake.bodies()] == [1000, 1000, 500]
    assert result.accepted == 2500 and result.ids == [f"id-{i}" for i in range(2500)]
    assert fake.bodies()[0]["items"][0] == {"external_id": "0", "fields": {"text": "t0"}}
    assert fake.requests[0].url.path == "/api/v1/datasets/reviews/records:bulk"
    assert fake.requests[0].headers["X-API-Key"] == "cs_0123456789abcdef_s"


def test_dataframes_and_hf_datasets_map_columns_to_fields_and_metadata() -> None:
    fake = FakeIngest()
    frame = pd.DataFrame({"review": ["a", "b"], "year": [1999, 2001], "id": ["x", "y"], "other": [None, 1.0]})
    client_for(fake).log(frame, "reviews", fields={"text": "review"}, metadata=["year"], progress=False)
    client_for(fake).log(Dataset.from_dict({"text": ["c"], "id": [7]}), "reviews", progress=False)
    client_for(fake).log([{"external_id": "z", "fields": {"text": "d"}, "metadata": {"year": 1}}], "reviews", progress=False)
    assert [b["items"] for b in fake.bodies()] == [
        [{"fields": {"text": "a"}, "external_id": "x", "metadata": {"year": 1999}},
         {"fields": {"text": "b"}, "external_id": "y", "metadata": {"year": 2001}}],
        [{"fields": {"text": "c"}, "external_id": "7"}],
        [{"external_id": "z", "fields": {"text": "d"}, "metadata": {"year": 1}}],
    ]


def test_429_and_503_are_retried_honouring_retry_after() -> None:
    fake = FakeIngest(httpx.Response(429, headers={"Retry-After": "2"}, json={"detail": "slow down"}),
                      httpx.Response(503, json={"detail": "Kafka is unavailable"}))
    sleeps: list[float] = []
    result = client_for(fake, sleeps).log([{"id": 1, "text": "a"}], "reviews", progress=False)
    assert result.accepted == 1
    assert len(fake.requests) == 3 and sleeps[0] == 2.0 and 0.5 <= sleeps[1] <= 1.0  # backoff 0.5·2¹ with jitter
    assert fake.requests[0].content == fake.requests[2].content  # the same batch is re-sent


def test_retries_give_up_with_the_last_error() -> None:
    fake = FakeIngest(*[httpx.Response(503, json={"detail": "Kafka is unavailable"})] * 10)
    client = Client("http://ingest", "k", transport=httpx.MockTransport(fake), max_retries=2, sleep=lambda s: None)
    with pytest.raises(ApiError) as caught:
        client.log([{"id": 1, "text": "a"}], "reviews", progress=False)
    assert caught.value.status_code == 503 and len(fake.requests) == 3


def test_a_rejected_batch_reports_indexes_over_the_whole_call() -> None:
    rejected = httpx.Response(422, json={"detail": "1 of 2 records are invalid",
                                         "errors": [{"index": 1, "field": "fields.text", "reason": "required field is missing"}]})

    class SecondBatchFails(FakeIngest):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if len(self.requests) == 1:
                self.requests.append(request)
                return rejected
            return super().__call__(request)

    with pytest.raises(ValidationFailed) as caught:
        client_for(SecondBatchFails()).log([{"id": i, "text": "x"} for i in range(4)], "reviews", batch_size=2,
                                           concurrency=1, progress=False)
    assert caught.value.errors == [{"index": 3, "field": "fields.text", "reason": "required field is missing"}]
    assert caught.value.accepted_before == 2
    assert "item 3: fields.text: required field is missing" in str(caught.value)


def test_predictions_and_feedback() -> None:
    fake = FakeIngest()
    client = client_for(fake)
    assert client.log_prediction("q1", model="m", text="t", predicted_label="positive", scores={"positive": 1.0}) == "ev-q1"
    assert client.log_feedback("q1", signal="thumbs_down") == "ev-q1"
    result = client.log_predictions([{"request_id": f"q{i}", "model": "m", "text": "t", "predicted_label": "p",
                                      "model_version": None} for i in range(5)], batch_size=2)
    assert result.ids == [f"ev-q{i}" for i in range(5)]
    paths = [r.url.path for r in fake.requests]
    assert paths == ["/api/v1/predictions", "/api/v1/feedback"] + ["/api/v1/predictions:bulk"] * 3
    assert fake.bodies()[0] == {"request_id": "q1", "model": "m", "text": "t", "predicted_label": "positive",
                                "scores": {"positive": 1.0}}
    assert fake.bodies()[1] == {"request_id": "q1", "signal": "thumbs_down"}
    assert "model_version" not in fake.bodies()[2]["items"][0]


def test_the_workspace_comes_from_the_key() -> None:
    assert client_for(FakeIngest()).workspace == "acme"
