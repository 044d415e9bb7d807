"""MongoDB client factory (PyMongo's async API; the client connects lazily), and writes every service shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from claystream_common.settings import BaseAppSettings


def make_mongo_client(settings: BaseAppSettings) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(
        settings.mongo_url,
        serverSelectionTimeoutMS=settings.mongo_timeout_ms,
        connectTimeoutMS=settings.mongo_timeout_ms,
        appname=f"claystream-{settings.service_name}",
        tz_aware=True,
    )


def mongo_database(client: AsyncMongoClient[dict[str, Any]], settings: BaseAppSettings) -> AsyncDatabase[dict[str, Any]]:
    return client[settings.mongo_db]


async def ping_mongo(client: AsyncMongoClient[dict[str, Any]]) -> None:
    await client.admin.command("ping")


DUPLICATE_KEY = 11000


def stored_datetime(value: Any) -> Any:
    """A date read back from MongoDB, as an aware UTC datetime.  nx-27017 (the embedded store) keeps a datetime
    written by ``$set`` on an existing document as its naive text (``2026-12-04 17:02:23.905000``); real MongoDB
    keeps the date.  Anything else (None, a value that is no date) is returned as it is."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


async def insert_new(collection: AsyncCollection[dict[str, Any]], documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert documents named by ``_id``; those already there are left as they are (idempotent re-writes:
    redeliveries, retried batches).  One round trip, and no read first on the common path.  Returns the
    documents inserted now; any other write error raises."""
    if not documents:
        return []
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        duplicates = {e["index"] for e in errors}
        return [d for i, d in enumerate(documents) if i not in duplicates]
    return documents
