"""A store that cannot be reached answers 503 with Retry-After on every service (create_service_app), never a 500.

Real clients against a port nothing listens on: the exceptions are the ones an outage raises."""

from __future__ import annotations

import socket

import httpx
from claystream_common.service_app import create_service_app
from claystream_common.settings import BaseAppSettings
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _nothing(_: FastAPI) -> None:
    return None


def app_with_dead_stores() -> FastAPI:
    app = create_service_app(BaseAppSettings(), title="t", start=_nothing, stop=_nothing)
    port = closed_port()

    @app.get("/uses-redis")
    async def uses_redis() -> dict[str, object]:
        client = Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
        try:
            return {"n": await client.zcard("queue")}
        finally:
            await client.aclose()

    @app.get("/uses-mongo")
    async def uses_mongo() -> dict[str, object]:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=300)
        try:
            return {"found": await client["db"]["records"].find_one({})}
        finally:
            await client.close()

    @app.get("/bug")
    async def bug() -> dict[str, object]:
        raise RuntimeError("a bug stays a 500")

    return app


async def test_redis_and_mongodb_outages_are_503_with_retry_after() -> None:
    transport = httpx.ASGITransport(app=app_with_dead_stores(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path, name in (("/uses-redis", "Redis"), ("/uses-mongo", "MongoDB")):
            answer = await client.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json() == {"detail": f"{name} is unavailable; retry later"}
            assert answer.headers["retry-after"] == "5"
        page = await client.get("/uses-redis", headers={"Accept": "text/html"})
        assert page.status_code == 503 and "Redis is unavailable" in page.text and page.headers["content-type"].startswith("text/html")
        assert (await client.get("/bug")).status_code == 500
