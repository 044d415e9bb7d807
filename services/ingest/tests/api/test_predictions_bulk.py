"""POST /api/v1/predictions:bulk."""

from __future__ import annotations

import httpx

ITEM = {"request_id": "q", "model": "sentiment", "text": "t", "predicted_label": "positive"}


async def test_202_for_a_batch_in_order(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    items = [ITEM | {"request_id": f"q{i}"} for i in range(20)]
    response = await client.post("/api/v1/predictions:bulk", json={"items": items})
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 20
    assert body["event_ids"] == [event.event_id for _, event in fake.publisher.published]
    assert [d["data"]["request_id"] for d in fake.publisher.documents("predictions")] == [f"q{i}" for i in range(20)]


async def test_too_many_items_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/predictions:bulk", json={"items": [ITEM] * 51})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"index": None, "field": "items", "reason": "at most 50 predictions per request (got 51); split the batch"}]


async def test_partial_skips_bad_items(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/predictions:bulk", params={"partial": "true"},
                                 json={"items": [ITEM, {"request_id": "q2"}]})
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert [e["field"] for e in body["rejected"]] == ["model", "predicted_label", "text"]


async def test_503_when_kafka_is_down(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    fake.publisher.fail = True
    response = await client.post("/api/v1/predictions:bulk", json={"items": [ITEM]})
    assert response.status_code == 503


async def test_an_unknown_dataset_is_404_or_with_partial_one_rejected_item(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    items = [ITEM | {"request_id": "known", "dataset": "reviews"}, ITEM | {"request_id": "lost", "dataset": "nope"}, ITEM]
    whole = await client.post("/api/v1/predictions:bulk", json={"items": items})
    assert (whole.status_code, whole.json()) == (404, {"detail": "dataset 'nope' not found in workspace 'acme'"})
    assert fake.publisher.published == []
    partial = await client.post("/api/v1/predictions:bulk", params={"partial": "true"}, json={"items": items})
    assert partial.status_code == 202, partial.text
    assert partial.json()["accepted"] == 2
    assert partial.json()["rejected"] == [{"index": 1, "field": "dataset", "reason": "dataset 'nope' not found in workspace 'acme'"}]
    assert [d["data"]["request_id"] for d in fake.publisher.documents("predictions")] == ["known", "q"]
