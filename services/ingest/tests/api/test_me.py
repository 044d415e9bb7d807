"""GET /api/v1/me."""

from __future__ import annotations

import httpx

from ingest_fakes import KEY_ID, SERVICE_TOKEN


async def test_the_key_names_its_workspace(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {"workspace": "acme", "key_id": KEY_ID, "role": "annotator"}


async def test_services_use_the_bearer_token_and_a_workspace(client: httpx.AsyncClient) -> None:
    headers = {"X-API-Key": "", "Authorization": f"Bearer {SERVICE_TOKEN}", "X-Claystream-Workspace": "globex"}
    response = await client.get("/api/v1/me", headers=headers)
    assert response.json() == {"workspace": "globex", "key_id": "service", "role": "service"}
