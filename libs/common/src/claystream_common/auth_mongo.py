"""The MongoDB lookups of :mod:`claystream_common.auth`: the shared ``api_keys`` collection, and
annotate's ``users`` collection read through the :class:`~claystream_common.auth.UserRecord` contract."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from claystream_common.auth import ApiKeyRecord, UserRecord


class MongoApiKeyLookup:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._keys = db["api_keys"]

    async def __call__(self, key_id: str) -> ApiKeyRecord | None:
        document = await self._keys.find_one({"_id": key_id})
        return ApiKeyRecord.from_document(document) if document else None


class MongoUserLookup:
    """Read on every request (no cache): a disable or a logout elsewhere counts at once."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._users = db["users"]

    async def __call__(self, user_id: str) -> UserRecord | None:
        document = await self._users.find_one({"_id": user_id}, {"password_hash": 0})
        return UserRecord.from_document(document) if document else None
