"""A lease lock in Redis: one training per dataset at a time.

``SET NX PX`` with a random token; renewal and release compare the token first (Lua),
so a holder whose lease expired (a crash, a long pause) can never free someone else's lock.
"""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisTrainingLock:
    def __init__(self, redis: Redis, *, prefix: str = "trainer:lock") -> None:
        self._redis = redis
        self._prefix = prefix
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{name}"

    async def acquire(self, name: str, lease_s: float) -> str | None:
        token = secrets.token_hex(16)
        ok = await self._redis.set(self._key(name), token, nx=True, px=int(lease_s * 1000))
        return token if ok else None

    async def renew(self, name: str, token: str, lease_s: float) -> bool:
        return bool(await self._renew(keys=[self._key(name)], args=[token, int(lease_s * 1000)]))

    async def release(self, name: str, token: str) -> bool:
        return bool(await self._release(keys=[self._key(name)], args=[token]))

    async def holder(self, name: str) -> str | None:
        return await self._redis.get(self._key(name))
