"""One outbox relay pass at a time across annotate's replicas (a Redis lease with a token).

Every replica's relay polls the same response documents: two passes running at once read and published the same
entries before either cleared them (630 messages for 400 events with two replicas).  The lease holder is the only
one draining; it expires on its own if its holder dies mid-pass.
"""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisRelayLock:
    def __init__(self, redis: Redis, *, key: str = "cs:outbox-relay", ttl_ms: int = 10_000) -> None:
        self._redis = redis
        self._key = key
        self._ttl_ms = ttl_ms
        self._release = redis.register_script(RELEASE)
        self._token: str | None = None

    async def acquire(self) -> bool:
        token = uuid.uuid4().hex
        if await self._redis.set(self._key, token, nx=True, px=self._ttl_ms):
            self._token = token
            return True
        return False

    async def release(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            await self._release(keys=[self._key], args=[token])
