"""Where the vector index loads from: stored records (MongoDB), the trainer's embeddings (HTTP), and the
per-dataset generation numbers that keep replicas in sync (Redis)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from claystream_annotate.services.errors import Unavailable
from claystream_annotate.services.vector_index import Rows


class MongoStoredVectors:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, page: int = 5000) -> None:
        self._records = db["records"]
        self._page = page

    async def rows(self, dataset_id: str, field: str) -> AsyncIterator[Rows]:
        """Walks ``(seq, dataset_id)`` (the records' index) in pages; records without the field are skipped."""
        path = f"vectors.{field}"
        last_seq: int | None = None
        while True:
            query: dict[str, Any] = {"dataset_id": dataset_id}
            if last_seq is not None:
                query["seq"] = {"$gt": last_seq}
            cursor = self._records.find(query, {"_id": 1, "seq": 1, path: 1}).sort("seq", ASCENDING).limit(self._page)
            page = [d async for d in cursor]
            if not page:
                return
            rows = [(d["_id"], vector) for d in page if (vector := _projected(d, field)) is not None]
            if rows:
                yield rows
            if len(page) < self._page:
                return
            last_seq = page[-1]["seq"]


def _projected(document: dict[str, Any], field: str) -> Any:
    """MongoDB nests a dotted projection (``{"vectors": {field: ...}}``); nx-27017 returns the dotted key."""
    nested = (document.get("vectors") or {}).get(field)
    return nested if nested is not None else document.get(f"vectors.{field}")


class HttpTrainerEmbeddings:
    """``GET {trainer}/api/v1/models/{dataset}/embeddings`` pages: ids + base64 float32 rows."""

    def __init__(self, http: httpx.AsyncClient, *, trainer_url: str, service_token: str, page: int = 5000) -> None:
        self._http = http
        self._url = trainer_url.rstrip("/")
        self._token = service_token
        self._page = page

    async def rows(self, workspace: str, dataset: str) -> AsyncIterator[Rows]:
        after: str | None = None
        headers = {"Authorization": f"Bearer {self._token}", "X-Claystream-Workspace": workspace}
        while True:
            params: dict[str, Any] = {"limit": self._page, **({"after": after} if after else {})}
            try:
                answer = await self._http.get(f"{self._url}/api/v1/models/{dataset}/embeddings", params=params,
                                              headers=headers, timeout=60)
                answer.raise_for_status()
            except httpx.HTTPError as error:
                raise Unavailable(f"the trainer's embeddings of {dataset} are not available now: {error!r}"[:300]) from error
            body = answer.json()
            ids = body["ids"]
            if ids:
                matrix = np.frombuffer(base64.b64decode(body["vectors"]), dtype="<f4").reshape(len(ids), body["dimensions"])
                yield list(zip(ids, matrix, strict=True))
            after = body.get("next_after")
            if not after:
                return


class RedisGenerations:
    def __init__(self, redis: Redis, *, prefix: str = "annotate:vecgen") -> None:
        self._redis = redis
        self._prefix = prefix

    async def current(self, dataset_id: str) -> int:
        return int(await self._redis.get(f"{self._prefix}:{dataset_id}") or 0)

    async def bump(self, dataset_id: str) -> int:
        return int(await self._redis.incr(f"{self._prefix}:{dataset_id}"))

    async def drop(self, dataset_id: str) -> None:
        await self._redis.delete(f"{self._prefix}:{dataset_id}")
