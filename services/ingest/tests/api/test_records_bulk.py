"""POST /api/v1/datasets/{dataset}/records:bulk over HTTP (ASGI), with fakes of the ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson

from claystream_common.datasets import record_id_for
from ingest_fakes import VIEWER_KEY

URL = "/api/v1/datasets/reviews/records:bulk"
BODY = {"items": [{"external_id": "1", "fields": {"text": "Great"}}, {"external_id": "2", "fields": {"text": "Bad"}}]}


async def test_202_after_publishing_with_deterministic_ids(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(URL, json=BODY)
    assert response.status_code == 202
    ids = [record_id_for("acme", "reviews", "1"), record_id_for("acme", "reviews", "2")]
    assert response.json() == {"accepted": 2, "record_ids": ids, "rejected": []}
    assert [d["data"]["record_id"] for d in fake.publisher.documents("records")] == ids


async def test_401_without_or_with_a_wrong_key(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, json=BODY, headers={"X-API-Key": ""})
    assert response.status_code == 401
    assert response.json() == {"detail": "X-API-Key: missing API key"}
    assert response.headers["WWW-Authenticate"] == 'ApiKey header="X-API-Key"'
    response = await client.post(URL, json=BODY, headers={"X-API-Key": "cs_0123456789abcdef_nope"})
    assert (response.status_code, response.json()) == (401, {"detail": "X-API-Key: invalid or revoked API key"})


async def test_403_for_a_read_only_key_or_another_workspace(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, json=BODY, headers={"X-API-Key": VIEWER_KEY})
    assert response.status_code == 403
    response = await client.post(URL, json=BODY, headers={"X-Claystream-Workspace": "globex"})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "X-Claystream-Workspace: this key belongs to workspace 'acme', not 'globex'"}


async def test_404_for_an_unknown_dataset(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/datasets/nope/records:bulk", json=BODY)
    assert (response.status_code, response.json()) == (404, {"detail": "dataset 'nope' not found in workspace 'acme'"})


async def test_413_from_content_length_before_reading(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    big = orjson.dumps({"items": [{"fields": {"text": "x" * 70_000}}]})
    response = await client.post(URL, content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "request body is larger than 65536 bytes; send smaller batches"}
    assert fake.publisher.published == []


async def test_413_from_the_streamed_size_without_content_length(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 10_000

    response = await client.post(URL, content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_422_lists_every_bad_record_and_accepts_none(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    body = {"items": [BODY["items"][0], {"fields": {"text": "x", "body": "y"}}, {"fields": {}}]}
    response = await client.post(URL, json=body)
    assert response.status_code == 422
    assert response.json() == {
        "detail": "2 of 3 records are invalid; nothing was accepted (fix them, or send ?partial=true)",
        "errors": [
            {"index": 1, "field": "fields.body", "reason": "unknown field (dataset fields: text, title)"},
            {"index": 2, "field": "fields.text", "reason": "required field is missing"},
        ],
    }
    assert fake.publisher.published == []


async def test_422_for_a_vector_of_the_wrong_dimension_or_an_unknown_vector_field(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    good = {"fields": {"text": "fine"}, "vectors": {"mini": [0.1, 0.2, 0.3]}}
    body = {"items": [good, {"fields": {"text": "x"}, "vectors": {"mini": [0.1, 0.2]}},
                      {"fields": {"text": "y"}, "vectors": {"nope": [1.0, 2.0, 3.0]}}]}
    response = await client.post(URL, json=body)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"index": 1, "field": "vectors.mini", "reason": "must be a list of 3 numbers (got 2 numbers)"},
        {"index": 2, "field": "vectors.nope", "reason": "unknown vector field (dataset vector fields: mini)"},
    ]
    assert fake.publisher.published == []


async def test_partial_accepts_the_good_ones(client: httpx.AsyncClient) -> None:
    body = {"items": [BODY["items"][0], {"fields": {}}]}
    response = await client.post(URL, params={"partial": "true"}, json=body)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "record_ids": [record_id_for("acme", "reviews", "1")],
                               "rejected": [{"index": 1, "field": "fields.text", "reason": "required field is missing"}]}


async def test_400_for_a_body_that_is_not_json(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, content=b"{items: [", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("the request body is not valid JSON: ")


async def test_429_with_retry_after(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    fake.limiter.allow = len(fake.limiter.hits)
    response = await client.post(URL, json=BODY)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json()["retry_after_s"] == 1.5


async def test_503_when_kafka_does_not_acknowledge(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    fake.publisher.fail = True
    response = await client.post(URL, json=BODY)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.json()
    assert body["accepted"] == 0 and body["retryable"] is True and "Kafka is unavailable" in body["detail"]


async def test_the_openapi_document_describes_the_body(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/datasets/{dataset}/records:bulk"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/RecordsBulkIn"}
    assert "RecordIn" in schema["components"]["schemas"] and "SuggestionIn" in schema["components"]["schemas"]
    assert {"401", "403", "404", "413", "422", "429", "503"} <= set(operation["responses"])


async def test_bad_query_parameters_get_the_same_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, params={"partial": "maybe"}, json=BODY)
    assert response.status_code == 422
    assert response.json() == {"detail": "invalid request parameters", "errors": [
        {"index": None, "field": "query.partial", "reason": "Input should be a valid boolean, unable to interpret input"}]}
