"""POST /api/v1/feedback:bulk."""

from __future__ import annotations

import httpx


async def test_202_for_a_batch(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    items = [{"request_id": f"q{i}", "true_label": "negative"} for i in range(5)]
    response = await client.post("/api/v1/feedback:bulk", json={"items": items})
    assert response.status_code == 202 and response.json()["accepted"] == 5
    assert [d["data"]["true_label"] for d in fake.publisher.documents("feedback")] == ["negative"] * 5


async def test_429_when_over_the_rate_limit(client: httpx.AsyncClient, fake) -> None:  # type: ignore[no-untyped-def]
    fake.limiter.allow = 0
    response = await client.post("/api/v1/feedback:bulk", json={"items": [{"request_id": "q", "signal": "up"}]})
    assert response.status_code == 429 and "Retry-After" in response.headers
