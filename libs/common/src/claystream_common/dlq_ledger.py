"""Where ``claystream-dlq replay`` records what it replayed, so a second replay of an entry is refused.

Keys identify one dead-lettering (DLQ topic, partition, offset and timestamp); values are small
JSON-able records.  :class:`MongoLedger` (collection ``dlq_replays``) is safe for concurrent operators;
:class:`JsonFileLedger` is for one operator on one machine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

REPLAYS_COLLECTION = "dlq_replays"


class LedgerError(Exception):
    """The replay record cannot be read (e.g. a corrupt state file)."""


class ReplayLedger(Protocol):
    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def claim(self, key: str, record: dict[str, Any], *, force: bool) -> tuple[bool, dict[str, Any] | None]:
        """Record a replay about to happen: (claimed, earlier record).  Not claimed when replayed before
        and not forced."""

    async def release(self, key: str, previous: dict[str, Any] | None) -> None:
        """Undo a claim whose publish failed (restore the earlier record, if any)."""

    async def close(self) -> None: ...


class JsonFileLedger:
    """Replays in a local JSON file (single operator; written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError as error:
            raise LedgerError(f"replay state file {self.path} is not valid JSON: {error}") from None
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)

    async def get(self, key: str) -> dict[str, Any] | None:
        return self._load().get(key)

    async def claim(self, key: str, record: dict[str, Any], *, force: bool) -> tuple[bool, dict[str, Any] | None]:
        data = self._load()
        previous = data.get(key)
        if previous is not None and not force:
            return False, previous
        data[key] = {**record, "replay_count": (previous or {}).get("replay_count", 0) + 1}
        self._save(data)
        return True, previous

    async def release(self, key: str, previous: dict[str, Any] | None) -> None:
        data = self._load()
        if previous is None:
            data.pop(key, None)
        else:
            data[key] = previous
        self._save(data)

    async def close(self) -> None:
        return None


class MongoLedger:
    """Replays in the ``dlq_replays`` collection (``_id`` = the entry's ledger key); safe for concurrent operators."""

    def __init__(self, url: str, db_name: str) -> None:
        self._client: Any = AsyncMongoClient(url, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, tz_aware=True)
        self._collection = self._client[db_name][REPLAYS_COLLECTION]

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self._collection.find_one({"_id": key})

    async def claim(self, key: str, record: dict[str, Any], *, force: bool) -> tuple[bool, dict[str, Any] | None]:
        previous = await self.get(key)
        if previous is not None and not force:
            return False, previous
        document = {**record, "_id": key, "replay_count": (previous or {}).get("replay_count", 0) + 1}
        if previous is None:
            try:
                await self._collection.insert_one(document)
            except DuplicateKeyError:  # another operator replayed it just now
                return False, await self.get(key)
        else:
            await self._collection.replace_one({"_id": key}, document)
        return True, previous

    async def release(self, key: str, previous: dict[str, Any] | None) -> None:
        if previous is None:
            await self._collection.delete_one({"_id": key})
        else:
            await self._collection.replace_one({"_id": key}, previous)

    async def close(self) -> None:
        await self._client.close()
