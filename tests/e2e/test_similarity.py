"""Vectors and similarity search through the real services: ingest validates and publishes, annotate stores
the vectors and answers top-k (cosine) with the record listing's filters; ``trainer_embeddings`` works on a
dataset without vectors, from the trainer's embeddings API.  Embedded Kafka / MongoDB / Redis."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from claystream_common.datasets import record_id_for

from .conftest import SERVICE_TOKEN, eventually, three_services

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WORKSPACE = "similar"
DIMS = 8


def records_url(dataset: str) -> str:
    return f"/api/v1/workspaces/{WORKSPACE}/datasets/{dataset}/records"


async def create(annotate: Any, name: str, **extra: Any) -> None:
    body = {"name": name, "fields": [{"name": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "labels": ["positive", "negative"]}],
            "metadata_properties": [{"name": "source", "type": "terms"}], **extra}
    answer = await annotate.post(f"/api/v1/workspaces/{WORKSPACE}/datasets", json=body)
    assert answer.status_code == 201, answer.text


async def wait_stored(annotate: Any, dataset: str, count: int) -> None:
    async def stored() -> bool:
        listed = await annotate.get(records_url(dataset), params={"limit": 200, "count": "true"})
        return listed.status_code == 200 and len(listed.json()["items"]) >= count

    await eventually(stored, timeout_s=60, what=f"{count} records stored")


def cosine_ranking(vectors: dict[str, np.ndarray], query: np.ndarray) -> list[str]:
    scores = {k: float(v @ query / (np.linalg.norm(v) * np.linalg.norm(query))) for k, v in vectors.items()}
    return sorted(scores, key=lambda k: -scores[k])


async def test_stored_vectors_answer_top_k_with_filters_and_bad_input_is_refused(embedded_stack, unique_name, tmp_path):
    dataset = "movies"
    rng = np.random.default_rng(3)
    vectors = {f"m{i}": rng.normal(size=DIMS).astype(np.float32) for i in range(60)}
    async with three_services(embedded_stack, unique_name, WORKSPACE, tmp_path / "models") as svc:
        annotate, ingest = svc["annotate"].client, svc["ingest"].client
        await create(annotate, dataset, vectors=[{"name": "plot", "title": "Plot embedding", "dimensions": DIMS}])
        bulk = f"/api/v1/datasets/{dataset}/records:bulk"

        bad = await ingest.post(bulk, json={"items": [
            {"external_id": "ok", "fields": {"text": "fine"}, "vectors": {"plot": [0.1] * DIMS}},
            {"external_id": "short", "fields": {"text": "x"}, "vectors": {"plot": [0.1] * (DIMS - 1)}},
            {"external_id": "alien", "fields": {"text": "y"}, "vectors": {"nope": [0.1] * DIMS}}]})
        assert bad.status_code == 422, bad.text
        assert bad.json()["errors"] == [
            {"index": 1, "field": "vectors.plot", "reason": f"must be a list of {DIMS} numbers (got {DIMS - 1} numbers)"},
            {"index": 2, "field": "vectors.nope",
             "reason": "unknown vector field (dataset vector fields: plot)"}]

        items = [{"external_id": key, "fields": {"text": f"movie {key}"}, "vectors": {"plot": vector.tolist()},
                  "metadata": {"source": "even" if int(key[1:]) % 2 == 0 else "odd"}} for key, vector in vectors.items()]
        assert (await ingest.post(bulk, json={"items": items[:40]})).status_code == 202
        await wait_stored(annotate, dataset, 40)
        listed = (await annotate.get(records_url(dataset), params={"limit": 200})).json()["items"]
        assert len(listed) == 40 and "ok" not in {r["external_id"] for r in listed}  # nothing of the refused batch

        similar = f"{records_url(dataset)}/similar"
        query = rng.normal(size=DIMS)
        first40 = {k: v for k, v in list(vectors.items())[:40]}
        answer = await annotate.post(similar, json={"vector_field": "plot", "vector": query.tolist(), "k": 5})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [r["external_id"] for r in body["items"]] == cosine_ranking(first40, query)[:5]
        assert body["indexed"] == 40 and body["items"][0]["score"] >= body["items"][-1]["score"]

        # by record: the record itself is left out; with a filter only matching records come back
        m3 = record_id_for(WORKSPACE, dataset, "m3")
        answer = await annotate.post(similar, json={"vector_field": "plot", "record_id": m3, "k": 4,
                                                    "filter": {"metadata": {"source": ["even"]}}})
        assert answer.status_code == 200, answer.text
        evens = {k: v for k, v in first40.items() if int(k[1:]) % 2 == 0}
        assert [r["external_id"] for r in answer.json()["items"]] == cosine_ranking(evens, vectors["m3"])[:4]

        # records stored after the index was built are found (kept in sync by the records consumer)
        assert (await ingest.post(bulk, json={"items": items[40:]})).status_code == 202
        await wait_stored(annotate, dataset, 60)
        target = vectors["m55"] + 0.001

        async def found_new() -> bool:
            answer = await annotate.post(similar, json={"vector_field": "plot", "vector": target.tolist(), "k": 1})
            return answer.json()["items"][0]["external_id"] == "m55"

        await eventually(found_new, timeout_s=30, what="a record stored after the index was built")

        for wrong, field, reason in [
            ({"vector_field": "nope", "vector": [0.0] * DIMS}, "vector_field", "unknown vector field 'nope'"),
            ({"vector_field": "plot", "vector": [0.1] * 3}, "vector", f"must be a list of {DIMS} numbers"),
            ({"vector_field": "plot", "vector": [0.1] * DIMS, "record_id": m3}, "record_id", "exactly one"),
            ({"vector_field": "plot", "vector": [0.1] * DIMS, "filter": {"status": "odd"}}, "status", "one of"),
        ]:
            answer = await annotate.post(similar, json=wrong)
            assert answer.status_code == 422, (wrong, answer.text)
            assert field in answer.text and reason in answer.text, answer.text
        missing = await annotate.post(similar, json={"vector_field": "plot", "record_id": "no-such-record"})
        assert missing.status_code == 404, missing.text

        schema = svc["annotate"].app.openapi()  # the SDK's contract, published in annotate's OpenAPI
        operation = schema["paths"]["/api/v1/workspaces/{workspace}/datasets/{dataset}/records/similar"]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SimilarIn"}
        assert set(schema["components"]["schemas"]["SimilarIn"]["properties"]) == {"vector_field", "record_id", "vector", "k", "filter"}
        assert {"items", "indexed", "k", "vector_field"} <= set(schema["components"]["schemas"]["SimilarOut"]["properties"])
        assert {"404", "422"} <= set(operation["responses"])


async def test_a_dataset_without_vectors_searches_the_trainers_embeddings(embedded_stack, unique_name, tmp_path):
    from claystream_annotate.adapters.vector_sources import HttpTrainerEmbeddings

    dataset = "plain"
    texts = {"a": "space pirates fight over a golden ship", "b": "pirates and a golden ship in space",
             "c": "a quiet romance in a small french village", "d": "romance blooms in a french village",
             "e": "a detective hunts a killer in the rain"}
    async with three_services(embedded_stack, unique_name, WORKSPACE, tmp_path / "models") as svc:
        annotate, ingest, trainer = svc["annotate"].client, svc["ingest"].client, svc["trainer"].client
        # the trainer's real API, reached through this test's transport instead of a URL
        svc["annotate"].app.state.deps.vectors.trainer = HttpTrainerEmbeddings(
            trainer, trainer_url="http://trainer", service_token=SERVICE_TOKEN)
        await create(annotate, dataset)
        items = [{"external_id": k, "fields": {"text": t}} for k, t in texts.items()]
        assert (await ingest.post(f"/api/v1/datasets/{dataset}/records:bulk", json={"items": items})).status_code == 202
        await wait_stored(annotate, dataset, len(texts))

        async def embedded() -> bool:
            page = (await trainer.get(f"/api/v1/models/{dataset}/embeddings")).json()
            return len(page["ids"]) == len(texts)

        await eventually(embedded, timeout_s=60, what="the trainer embedding every record")
        answer = await annotate.post(f"{records_url(dataset)}/similar", json={
            "vector_field": "trainer_embeddings", "record_id": record_id_for(WORKSPACE, dataset, "c"), "k": 2})
        assert answer.status_code == 200, answer.text
        assert [r["external_id"] for r in answer.json()["items"]][0] == "d", answer.json()
        page = (await trainer.get(f"/api/v1/models/{dataset}/embeddings", params={"limit": 2})).json()
        assert len(page["ids"]) == 2 and page["next_after"] == page["ids"][-1] and page["dimensions"] > 0
