"""MongoDB client factory (PyMongo's async API).  The client connects lazily."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

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
