"""Deliver sampled production inputs to an annotation dataset through ingest's bulk records API."""

from __future__ import annotations

from typing import Any

import httpx


class IngestSampleSink:
    def __init__(self, client: httpx.AsyncClient, *, ingest_url: str, service_token: str) -> None:
        self._client = client
        self._url = ingest_url.rstrip("/")
        self._token = service_token

    async def send(self, *, workspace: str | None, dataset: str, records: list[dict[str, Any]]) -> int:
        headers = {"Authorization": f"Bearer {self._token}"}
        if workspace:
            headers["X-Claystream-Workspace"] = workspace
        response = await self._client.post(
            f"{self._url}/api/v1/datasets/{dataset}/records:bulk", json={"items": records}, headers=headers, timeout=10.0
        )
        if response.status_code >= 400:
            raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
        body = response.json()
        return int(body.get("accepted", len(records))) if isinstance(body, dict) else len(records)


class NoSampleSink:
    """When no ingest URL is configured: samples are recorded as not delivered."""

    async def send(self, *, workspace: str | None, dataset: str, records: list[dict[str, Any]]) -> int:
        raise RuntimeError("no ingest_url configured: samples cannot be delivered")
