"""401 / 403 / 404 / 413 / 422 / 429 / 503 from the real service on the real embedded servers."""

from __future__ import annotations

import time

import httpx
import orjson
from pymongo import MongoClient

from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack
from claystream_ingest.main import create_app
from ingest_stack import RunningIngest, ingest_settings, seed

RECORD = {"external_id": "e1", "fields": {"text": "fine"}}


def post(server: RunningIngest, body: object, *, key: str | None = None, dataset: str | None = None,
         **options: object) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/datasets/{dataset or server.dataset}/records:bulk",
        json=body, headers={"X-API-Key": key if key is not None else server.api_key}, timeout=30, **options,  # type: ignore[arg-type]
    )


def test_401_403_404_413_422(ingest_server: RunningIngest) -> None:
    body = {"items": [RECORD]}
    assert post(ingest_server, body, key="").status_code == 401
    assert post(ingest_server, body, key=ingest_server.api_key[:-2] + "xx").status_code == 401
    forbidden = post(ingest_server, body, key=ingest_server.viewer_key)
    assert forbidden.status_code == 403 and "may not write" in forbidden.json()["detail"]
    missing = post(ingest_server, body, dataset="no-such-dataset")
    assert missing.status_code == 404
    assert missing.json() == {"detail": f"dataset 'no-such-dataset' not found in workspace '{ingest_server.workspace}'"}
    huge = orjson.dumps({"items": [{"fields": {"text": "x" * (11 * 1024 * 1024)}}]})
    too_large = httpx.post(f"{ingest_server.url}/api/v1/datasets/{ingest_server.dataset}/records:bulk", content=huge,
                           headers={"X-API-Key": ingest_server.api_key, "Content-Type": "application/json"}, timeout=30)
    assert too_large.status_code == 413
    invalid = post(ingest_server, {"items": [RECORD, {"fields": {"text": "x"}, "metadata": {"year": "MCMXCIX"}}]})
    assert invalid.status_code == 422
    assert invalid.json()["errors"] == [{"index": 1, "field": "metadata.year", "reason": "must be an integer"}]


def test_revoked_keys_stop_working_within_the_cache_ttl(ingest_server: RunningIngest) -> None:
    from claystream.keys import new_key_document

    document, key = new_key_document(ingest_server.workspace, "temporary", "annotator")
    mongo: MongoClient[dict[str, object]] = MongoClient(ingest_server.mongo_url)
    try:
        mongo[ingest_server.settings.mongo_db]["api_keys"].insert_one(document)
        assert post(ingest_server, {"items": [RECORD]}, key=key).status_code == 202
        mongo[ingest_server.settings.mongo_db]["api_keys"].update_one({"_id": document["_id"]}, {"$set": {"revoked": True}})
    finally:
        mongo.close()
    time.sleep(ingest_server.settings.api_key_cache_ttl_s + 0.2)
    assert post(ingest_server, {"items": [RECORD]}, key=key).status_code == 401


async def test_429_from_the_redis_rate_limit(embedded_stack: EmbeddedStack, unique_name: str) -> None:
    key, _ = seed(embedded_stack.ports.mongo_url, unique_name, unique_name, "reviews")
    app = create_app(ingest_settings(embedded_stack, unique_name, rate_limit_per_s=0.5, rate_limit_burst=2))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingest", headers={"X-API-Key": key}
    ) as client:
        statuses = [(await client.post("/api/v1/datasets/reviews/records:bulk", json={"items": [RECORD]})) for _ in range(3)]
    assert [r.status_code for r in statuses] == [202, 202, 429]
    assert int(statuses[2].headers["Retry-After"]) in (1, 2)
    assert statuses[2].json()["detail"].startswith("rate limit exceeded for this API key")


async def test_503_when_kafka_is_unreachable_and_nothing_is_accepted(embedded_stack: EmbeddedStack, unique_name: str) -> None:
    key, _ = seed(embedded_stack.ports.mongo_url, unique_name, unique_name, "reviews")
    settings = ingest_settings(embedded_stack, unique_name, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
                               kafka_connect_wait_s=0.1)
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingest", headers={"X-API-Key": key}
    ) as client:
        response = await client.post("/api/v1/datasets/reviews/records:bulk", json={"items": [RECORD]})
        ready = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.json()
    assert body["accepted"] == 0 and body["retryable"] is True
    assert body["detail"].startswith("Kafka is unavailable: the request was not accepted; retry later")
    assert ready.status_code == 503 and ready.json()["checks"]["kafka"].startswith("down")


async def test_503_when_mongodb_is_unreachable(embedded_stack: EmbeddedStack, unique_name: str) -> None:
    settings = ingest_settings(embedded_stack, unique_name, mongo_url=f"mongodb://127.0.0.1:{free_port()}",
                               mongo_timeout_ms=300)
    app = create_app(settings)
    from claystream.keys import new_key_document

    _, key = new_key_document(unique_name, "k", "annotator")
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingest", headers={"X-API-Key": key}
    ) as client:
        response = await client.post("/api/v1/datasets/reviews/records:bulk", json={"items": [RECORD]})
    assert response.status_code == 503
    assert response.json() == {"detail": "MongoDB is unavailable (API keys); nothing was accepted, retry later",
                               "accepted": 0, "retryable": True}
