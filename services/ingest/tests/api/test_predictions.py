"""POST /api/v1/predictions (one prediction)."""

from __future__ import annotations

import httpx

from claystream_common.events import decode_event

PREDICTION = {"request_id": "q1", "model": "sentiment", "model_version": "v3", "text": "great film",
              "predicted_label": "positive", "scores": {"positive": 0.9, "negative": 0.1}}


async def test_202_and_a_prediction_logged_event(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/predictions", json=PREDICTION)
    assert response.status_code == 202
    [(topic, event)] = fake.publisher.published
    assert topic == "predictions"
    assert response.json() == {"accepted": 1, "event_ids": [event.event_id], "rejected": []}
    envelope = decode_event(event.value)
    assert envelope.type == "prediction.logged" and envelope.workspace == "acme"
    assert envelope.data.scores == {"positive": 0.9, "negative": 0.1} and envelope.data.model_version == "v3"


async def test_422_names_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/predictions", json={**PREDICTION, "predicted_label": None})
    assert response.status_code == 422
    assert response.json() == {
        "detail": "1 of 1 predictions are invalid; nothing was accepted (fix them, or send ?partial=true)",
        "errors": [{"index": 0, "field": "predicted_label", "reason": "required property is missing"}],
    }


async def test_401_without_a_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/predictions", json=PREDICTION, headers={"X-API-Key": ""})
    assert response.status_code == 401
