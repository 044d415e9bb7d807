"""Redis client factory (redis-py asyncio).  Connections are opened on first use."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.backoff import ExponentialBackoff
from redis.asyncio.retry import Retry

from claystream_common.settings import BaseAppSettings


def make_redis(settings: BaseAppSettings) -> Redis:
    return Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=5,
        socket_connect_timeout=2,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
        health_check_interval=30,
    )


async def ping_redis(client: Redis) -> None:
    await client.ping()
