"""Dataset specs from the shared ``datasets`` collection (annotate writes it), cached briefly in Redis."""

from __future__ import annotations

import logging
from typing import Any

from claystream_common.datasets import DatasetSpec
from claystream_ingest.services.errors import StoreUnavailable
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class CachedMongoDatasetCatalog:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], redis: Redis, *, ttl_s: float) -> None:
        self._datasets = db["datasets"]
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)

    async def get(self, workspace: str, name: str) -> DatasetSpec | None:
        cache_key = f"claystream:ingest:dataset:{workspace}:{name}"
        if self._ttl_ms:
            try:
                cached = await self._redis.get(cache_key)
            except RedisError as error:
                log.warning("dataset cache unavailable, reading MongoDB: %r", error)
                cached = None
            if cached is not None:
                return DatasetSpec.model_validate_json(cached)
        try:
            document = await self._datasets.find_one({"workspace": workspace, "name": name})
        except PyMongoError as error:
            raise StoreUnavailable("MongoDB is unavailable (datasets); nothing was accepted, retry later") from error
        if document is None:
            return None  # not cached: a dataset created a moment later must be found
        try:
            spec = DatasetSpec.from_document(document)
        except ValidationError as error:
            log.error("dataset %s/%s does not match the DatasetSpec contract: %s", workspace, name, error)
            return None
        if self._ttl_ms:
            try:
                await self._redis.set(cache_key, spec.model_dump_json(), px=self._ttl_ms)
            except RedisError:
                pass
        return spec
