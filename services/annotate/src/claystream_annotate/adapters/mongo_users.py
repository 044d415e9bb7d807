"""Users and workspaces in MongoDB (collections ``users`` and ``workspaces``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from claystream_common.auth import UserRecord
from claystream_common.read_cache import ReadCache
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from claystream_annotate.services.errors import Conflict
from claystream_annotate.services.ports import User


def _memberships(document: dict[str, Any]) -> dict[str, str]:
    """Per-workspace roles; documents written before memberships existed held one global role."""
    stored = document.get("memberships")
    if isinstance(stored, dict):
        return {str(k): str(v) for k, v in stored.items()}
    return {str(name): str(document["role"]) for name in document.get("workspaces", [])}


def _user(document: dict[str, Any]) -> User:
    return User(
        id=document["_id"],
        username=document["username"],
        role=document["role"],
        workspaces=list(document.get("workspaces", [])),
        password_hash=document["password_hash"],
        active=document.get("active", True),
        session_epoch=int(document.get("session_epoch", 0)),
        created_at=document.get("created_at"),
        memberships=_memberships(document),
        ended_sessions=[str(tag) for tag in document.get("ended_sessions", [])],
    )


class MongoUserStore:
    """Users; ``get`` (every authenticated request) is cached at most ``cache_s`` seconds in process
    (refreshed ahead: :mod:`claystream_common.read_cache`), so a role, membership or logout change
    reaches other processes within that time."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, cache_s: float = 2.0) -> None:
        self._users = db["users"]
        self._cache: ReadCache[str, User | None] = ReadCache(cache_s, load_many=self._load_many)

    async def ensure_indexes(self) -> None:
        await self._users.create_index([("username", ASCENDING)], unique=True)

    async def get(self, user_id: str) -> User | None:
        user = await self._cache.get(user_id, lambda: self._load(user_id))
        return replace(user) if user is not None else None

    async def _load(self, user_id: str) -> User | None:
        document = await self._users.find_one({"_id": user_id})
        return _user(document) if document else None

    async def _load_many(self, user_ids: Sequence[str]) -> dict[str, User | None]:
        found = {d["_id"]: _user(d) async for d in self._users.find({"_id": {"$in": list(user_ids)}})}
        return {user_id: found.get(user_id) for user_id in user_ids}

    async def record(self, user_id: str) -> UserRecord | None:
        """The user as ``claystream_common.auth`` sees them (shares this store's cache and its invalidation)."""
        user = await self.get(user_id)
        if user is None:
            return None
        return UserRecord(
            user_id=user.id, username=user.username, role=user.role, memberships=dict(user.memberships), active=user.active,
            session_epoch=user.session_epoch, ended_sessions=tuple(user.ended_sessions),
        )

    async def by_username(self, username: str, *, any_case: bool = False) -> User | None:
        wanted: Any = {"$regex": f"^{re.escape(username)}$", "$options": "i"} if any_case else username
        document = await self._users.find_one({"username": wanted})
        return _user(document) if document else None

    async def insert(self, user: User) -> None:
        document = asdict(user)
        document["_id"] = document.pop("id")
        try:
            await self._users.insert_one(document)
        except DuplicateKeyError:  # the username index: taken by a concurrent insert since the service looked
            raise Conflict(f"username {user.username} is taken") from None

    async def update(self, user_id: str, changes: dict[str, Any]) -> bool:
        result = await self._users.update_one({"_id": user_id}, {"$set": changes})
        self._cache.invalidate(user_id)
        return result.matched_count == 1

    async def list(self, workspace: str | None = None) -> list[User]:
        query = {"workspaces": workspace} if workspace else {}
        return [_user(d) async for d in self._users.find(query).sort("username", ASCENDING)]

    async def any_owner(self) -> bool:
        return await self._users.find_one({"role": "owner"}, {"_id": 1}) is not None


class MongoWorkspaceStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._workspaces = db["workspaces"]

    async def create(self, name: str) -> bool:
        try:
            await self._workspaces.insert_one({"_id": name, "created_at": datetime.now(UTC)})
        except DuplicateKeyError:
            return False
        return True

    async def list(self) -> list[str]:
        return [d["_id"] async for d in self._workspaces.find({}, {"_id": 1}).sort("_id", ASCENDING)]

    async def exists(self, name: str) -> bool:
        return await self._workspaces.find_one({"_id": name}, {"_id": 1}) is not None
