"""POST /api/v1/feedback (one item)."""

from __future__ import annotations

import httpx

from claystream_common.events import decode_event


async def test_202_and_a_feedback_logged_event(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/feedback", json={"request_id": "q1", "signal": "thumbs_down"})
    assert response.status_code == 202
    [(topic, event)] = fake.publisher.published
    assert topic == "feedback" and response.json()["event_ids"] == [event.event_id]
    assert decode_event(event.value).data.signal == "thumbs_down"


async def test_422_without_label_or_signal(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/feedback", json={"request_id": "q1"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"index": 0, "field": "true_label", "reason": "give true_label or signal (or both)"}]
