"""API keys from the shared ``api_keys`` collection, cached briefly in Redis."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from claystream_ingest.services.errors import StoreUnavailable
from claystream_ingest.services.ports import ApiKeyRecord

log = logging.getLogger(__name__)
_MISSING = b"-"


class CachedMongoApiKeyStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], redis: Redis, *, ttl_s: float) -> None:
        self._keys = db["api_keys"]
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        cache_key = f"claystream:ingest:apikey:{key_id}"
        if self._ttl_ms:
            try:
                cached = await self._redis.get(cache_key)
            except RedisError as error:
                log.warning("API key cache unavailable, reading MongoDB: %r", error)
                cached = None
            if cached is not None:
                return None if cached in (_MISSING, _MISSING.decode()) else ApiKeyRecord(**orjson.loads(cached))
        try:
            document = await self._keys.find_one({"_id": key_id})
        except PyMongoError as error:
            raise StoreUnavailable("MongoDB is unavailable (API keys); nothing was accepted, retry later") from error
        record = _record(document) if document else None
        if self._ttl_ms:
            value = _MISSING if record is None else orjson.dumps(_as_dict(record))
            try:
                await self._redis.set(cache_key, value, px=self._ttl_ms)
            except RedisError:
                pass
        return record


def _record(document: dict[str, Any]) -> ApiKeyRecord | None:
    try:
        return ApiKeyRecord(
            key_id=str(document["_id"]),
            workspace=str(document["workspace"]),
            name=str(document.get("name", "")),
            role=str(document.get("role") or "annotator"),
            secret_sha256=str(document["secret_sha256"]),
            revoked=bool(document.get("revoked", False)),
        )
    except KeyError:
        log.warning("api_keys document %s lacks workspace or secret_sha256; treated as invalid", document.get("_id"))
        return None


def _as_dict(record: ApiKeyRecord) -> dict[str, Any]:
    return {slot: getattr(record, slot) for slot in ApiKeyRecord.__slots__}
