"""The annotation queue in Redis.

Keys (``{d}`` dataset id, ``{u}`` user id, ``{r}`` record id):
``cs:q:{d}`` ZSET pending records by queue score · ``cs:qb:{d}`` "built" marker ·
``cs:ans:{d}:{u}`` SET records the user answered · ``cs:ansb:{d}:{u}`` its marker ·
``cs:l:{d}:{r}`` exclusive lease (value: user, expires) · ``cs:cur:{d}:{u}`` the user's current record.
Everything here can be rebuilt from MongoDB (markers missing → rebuilt under a short lock).
"Next" is one Lua script (one round trip, atomic: two annotators can never claim the same
record); answering is one pipeline.

``lease_state`` answers from memory when this process granted the lease itself, within its TTL, and
has not seen it answered or released since (``_granted``): what it vouches for, that the record came
from this dataset's queue, cannot change, and "not answered yet" is re-checked by the response
insert's unique ``_id`` anyway.  That saves a submit one Redis round trip.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

CHUNK = 5000
GRANTED_MAX = 100_000
GRANT_MARGIN_S = 5.0  # a grant this close to its lease's end is checked in Redis


# Claim the caller's next record in one round trip.  KEYS: queue zset, answered set, current key.
# ARGV: user, ttl, exclusive (1/0), lease key prefix, window size, max windows.
CLAIM_NEXT = """
local user, ttl, exclusive, prefix = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4]
local scan, windows = tonumber(ARGV[5]), tonumber(ARGV[6])
local function take(id)
  if exclusive then
    local lease = prefix .. id
    if not redis.call('SET', lease, user, 'NX', 'EX', ttl) then
      if redis.call('GET', lease) ~= user then return false end
      redis.call('EXPIRE', lease, ttl)
    end
  end
  redis.call('SET', KEYS[3], id, 'EX', ttl)
  return true
end
local current = redis.call('GET', KEYS[3])
if current and redis.call('SISMEMBER', KEYS[2], current) == 0 and redis.call('ZSCORE', KEYS[1], current) then
  if take(current) then return current end
end
local start = 0
for w = 1, windows do
  local ids = redis.call('ZRANGE', KEYS[1], start, start + scan - 1)
  if #ids == 0 then return false end
  for _, id in ipairs(ids) do
    if redis.call('SISMEMBER', KEYS[2], id) == 0 and take(id) then return id end
  end
  start = start + scan
end
return false
"""

# Release a lease and the current pointer only when they are the caller's.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1
"""


class RedisQueue:
    def __init__(self, redis: Redis, *, prefix: str = "cs", marker_cache_s: float = 10.0) -> None:
        self._redis = redis
        self._p = prefix
        self._claim = redis.register_script(CLAIM_NEXT)
        self._release = redis.register_script(RELEASE)
        self._marker_cache_s = marker_cache_s
        self._markers: dict[str, float] = {}
        self._granted: dict[tuple[str, str], tuple[str, float]] = {}  # (dataset, user) -> (record, lease deadline)

    def _grant(self, dataset_id: str, user_id: str, record_id: str | None, ttl_s: int) -> None:
        if record_id is None:
            self._granted.pop((dataset_id, user_id), None)
            return
        if len(self._granted) >= GRANTED_MAX:
            self._granted.clear()
        self._granted[(dataset_id, user_id)] = (record_id, time.monotonic() + ttl_s - GRANT_MARGIN_S)

    def _forget_grant(self, dataset_id: str, user_id: str, record_ids: Sequence[str]) -> None:
        granted = self._granted.get((dataset_id, user_id))
        if granted is not None and granted[0] in record_ids:
            del self._granted[(dataset_id, user_id)]

    def _q(self, d: str) -> str:
        return f"{self._p}:q:{d}"

    def _ans(self, d: str, u: str) -> str:
        return f"{self._p}:ans:{d}:{u}"

    def _lease_prefix(self, d: str) -> str:
        return f"{self._p}:l:{d}:"

    def _cur(self, d: str, u: str) -> str:
        return f"{self._p}:cur:{d}:{u}"

    async def _build_once(self, marker: str, build: Callable[[], Awaitable[None]]) -> None:
        seen = self._markers.get(marker)
        if seen is not None and time.monotonic() - seen < self._marker_cache_s:
            return
        if not await self._redis.exists(marker):
            lock = f"{marker}:lock"
            while not await self._redis.set(lock, "1", nx=True, ex=60):
                await asyncio.sleep(0.05)
                if await self._redis.exists(marker):
                    break
            else:
                try:
                    if not await self._redis.exists(marker):
                        await build()
                        await self._redis.set(marker, "1")
                finally:
                    await self._redis.delete(lock)
        self._markers[marker] = time.monotonic()

    async def ensure_built(self, dataset_id: str, load: Callable[[], Awaitable[list[tuple[str, float]]]]) -> None:
        async def build() -> None:
            entries = await load()
            await self._redis.delete(self._q(dataset_id))
            await self.add(dataset_id, entries, only_new=False)

        await self._build_once(f"{self._p}:qb:{dataset_id}", build)

    async def mark_built(self, dataset_id: str) -> None:
        """For a brand-new dataset (nothing to load from MongoDB)."""
        await self._redis.set(f"{self._p}:qb:{dataset_id}", "1", nx=True)

    async def add(self, dataset_id: str, entries: Sequence[tuple[str, float]], *, only_new: bool = True) -> None:
        for start in range(0, len(entries), CHUNK):
            mapping = {record_id: score for record_id, score in entries[start:start + CHUNK]}
            await self._redis.zadd(self._q(dataset_id), mapping, nx=only_new)

    async def rescore(self, dataset_id: str, entries: Sequence[tuple[str, float]]) -> None:
        """Change the score of records still queued (priorities from the trainer)."""
        if entries:
            await self._redis.zadd(self._q(dataset_id), dict(entries), xx=True)

    async def remove(self, dataset_id: str, record_ids: Sequence[str]) -> None:
        """Out of the queue (completed, deleted): no lease this process granted vouches for them any more, and
        ``lease_state`` no longer calls them held, so an answer to a record deleted while open reads the record."""
        gone = set(record_ids)
        for key in [k for k, (record, _) in self._granted.items() if k[0] == dataset_id and record in gone]:
            del self._granted[key]
        for start in range(0, len(record_ids), CHUNK):
            await self._redis.zrem(self._q(dataset_id), *record_ids[start:start + CHUNK])

    async def window(self, dataset_id: str, start: int, count: int) -> list[str]:
        return list(await self._redis.zrange(self._q(dataset_id), start, start + count - 1))

    async def size(self, dataset_id: str) -> int:
        return int(await self._redis.zcard(self._q(dataset_id)))

    async def ensure_answered_loaded(self, dataset_id: str, user_id: str, load: Callable[[], Awaitable[list[str]]]) -> None:
        async def build() -> None:
            record_ids = await load()
            for start in range(0, len(record_ids), CHUNK):
                await self._redis.sadd(self._ans(dataset_id, user_id), *record_ids[start:start + CHUNK])

        await self._build_once(f"{self._p}:ansb:{dataset_id}:{user_id}", build)

    def _claim_keys_args(self, dataset_id: str, user_id: str, ttl_s: int, exclusive: bool, scan: int, max_windows: int) -> dict[str, list[Any]]:
        keys = [self._q(dataset_id), self._ans(dataset_id, user_id), self._cur(dataset_id, user_id)]
        return {"keys": keys, "args": [user_id, ttl_s, "1" if exclusive else "0", self._lease_prefix(dataset_id), scan, max_windows]}

    def _release_keys_args(self, dataset_id: str, record_id: str, user_id: str) -> dict[str, list[Any]]:
        return {"keys": [self._lease_prefix(dataset_id) + record_id, self._cur(dataset_id, user_id)], "args": [user_id, record_id]}

    async def claim_next(self, dataset_id: str, user_id: str, *, ttl_s: int, exclusive: bool, scan: int = 64, max_windows: int = 50) -> str | None:
        claimed = await self._claim(**self._claim_keys_args(dataset_id, user_id, ttl_s, exclusive, scan, max_windows)) or None
        self._grant(dataset_id, user_id, claimed, ttl_s)
        return claimed

    async def lease_state(self, dataset_id: str, user_id: str, record_id: str) -> tuple[bool, bool]:
        """(the record is the caller's current one and still queued, the caller answered it already)."""
        granted = self._granted.get((dataset_id, user_id))
        if granted is not None and granted[0] == record_id and time.monotonic() < granted[1]:
            return True, False
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._cur(dataset_id, user_id))
            pipe.sismember(self._ans(dataset_id, user_id), record_id)
            pipe.zscore(self._q(dataset_id), record_id)  # a deleted (or completed) record is no longer vouched for
            current, answered, queued = await pipe.execute()
        return current == record_id and queued is not None, bool(answered)

    async def record_answered(self, dataset_id: str, user_id: str, record_ids: Sequence[str], *, dequeue: bool) -> None:
        """The caller answered these: never offer them again to them; ``dequeue`` drops them for
        everyone (complete); their leases are released."""
        self._forget_grant(dataset_id, user_id, record_ids)
        for start in range(0, len(record_ids), CHUNK):
            chunk = list(record_ids[start:start + CHUNK])
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.sadd(self._ans(dataset_id, user_id), *chunk)
                if dequeue:
                    pipe.zrem(self._q(dataset_id), *chunk)
                if len(chunk) == 1:
                    await self._release(**self._release_keys_args(dataset_id, chunk[0], user_id), client=pipe)
                await pipe.execute()

    async def answered_then_claim(
        self, dataset_id: str, user_id: str, record_id: str, *, dequeue: bool, ttl_s: int, exclusive: bool, scan: int = 64, max_windows: int = 50
    ) -> str | None:
        """``record_answered([record_id])`` and ``claim_next`` in one MULTI (one round trip): no claim in between
        can see the record neither answered nor leased."""
        self._forget_grant(dataset_id, user_id, [record_id])
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self._ans(dataset_id, user_id), record_id)
            if dequeue:
                pipe.zrem(self._q(dataset_id), record_id)
            await self._release(**self._release_keys_args(dataset_id, record_id, user_id), client=pipe)
            await self._claim(**self._claim_keys_args(dataset_id, user_id, ttl_s, exclusive, scan, max_windows), client=pipe)
            replies = await pipe.execute()
        claimed = replies[-1] or None
        self._grant(dataset_id, user_id, claimed, ttl_s)
        return claimed

    async def answered_flags(self, dataset_id: str, user_id: str, record_ids: Sequence[str]) -> list[bool]:
        if not record_ids:
            return []
        return [bool(flag) for flag in await self._redis.smismember(self._ans(dataset_id, user_id), list(record_ids))]

    async def lease_holders(self, dataset_id: str, record_ids: Sequence[str]) -> list[str | None]:
        if not record_ids:
            return []
        return list(await self._redis.mget([self._lease_prefix(dataset_id) + r for r in record_ids]))

    async def release(self, dataset_id: str, record_id: str, user_id: str) -> None:
        self._forget_grant(dataset_id, user_id, [record_id])
        await self._release(**self._release_keys_args(dataset_id, record_id, user_id))

    async def drop(self, dataset_id: str) -> None:
        keys = [self._q(dataset_id), f"{self._p}:qb:{dataset_id}"]
        async for key in self._redis.scan_iter(match=f"{self._p}:*:{dataset_id}:*", count=1000):
            keys.append(key)
        for start in range(0, len(keys), 500):
            await self._redis.delete(*keys[start:start + 500])
        self._markers = {k: v for k, v in self._markers.items() if dataset_id not in k}
        self._granted = {k: v for k, v in self._granted.items() if k[0] != dataset_id}


class RedisCounters:
    """``cs:c:{d}`` HASH of counters (records, completed) for progress bars.

    A dataset created empty starts its hash at zero with the ``built`` mark (``start``), so it is
    counted by increments alone.  Disposable like everything in Redis: a hash without its ``built``
    mark (Redis flushed or restarted empty, or a dataset older than the mark) is recounted from
    MongoDB by ``rebuild`` on the next read.  One reader claims the recount (``HSETNX built``) and adds the difference between
    the recount and what the hash held when it looked, so increments landing while MongoDB is counted
    are kept (overwriting the hash lost them: a new dataset read while its records were arriving stayed
    at 0).  Only an increment landing between that look and the count is counted twice (progress bars,
    not ledgers)."""

    def __init__(self, redis: Redis, *, prefix: str = "cs", rebuild: Callable[[str], Awaitable[dict[str, int]]] | None = None) -> None:
        self._redis = redis
        self._p = prefix
        self._rebuild = rebuild

    async def start(self, dataset_id: str) -> None:
        key = f"{self._p}:c:{dataset_id}"
        async with self._redis.pipeline(transaction=True) as pipe:
            for name in ("records", "completed"):
                pipe.hsetnx(key, name, 0)
            pipe.hsetnx(key, "built", 1)
            await pipe.execute()

    async def incr(self, dataset_id: str, name: str, amount: int = 1) -> None:
        if amount:
            await self._redis.hincrby(f"{self._p}:c:{dataset_id}", name, amount)

    async def read(self, dataset_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for dataset_id in dataset_ids:
                pipe.hgetall(f"{self._p}:c:{dataset_id}")
            results = await pipe.execute()
        counts: dict[str, dict[str, int]] = {}
        for dataset_id, stored in zip(dataset_ids, results, strict=True):
            if self._rebuild is not None and "built" not in stored:
                stored = await self._recount(dataset_id, stored)
            counts[dataset_id] = {k: int(v) for k, v in stored.items() if k != "built"}
        return counts

    async def _recount(self, dataset_id: str, seen: Mapping[Any, Any]) -> Mapping[Any, Any]:
        key = f"{self._p}:c:{dataset_id}"
        if not await self._redis.hsetnx(key, "built", 1):
            return await self._redis.hgetall(key)  # another reader recounts: show what is there
        assert self._rebuild is not None
        rebuilt = await self._rebuild(dataset_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for name, value in rebuilt.items():
                pipe.hincrby(key, name, int(value) - int(seen.get(name, 0)))
            pipe.hgetall(key)
            results = await pipe.execute()
        return results[-1]

    async def drop(self, dataset_id: str) -> None:
        await self._redis.delete(f"{self._p}:c:{dataset_id}")


class RedisLoginLimiter:
    """Per-ip attempts per minute, and lockout of a username+ip after repeated failures."""

    def __init__(self, redis: Redis, *, max_failures: int, lockout_s: int, per_minute: int, prefix: str = "cs") -> None:
        self._redis = redis
        self._max_failures = max_failures
        self._lockout_s = lockout_s
        self._per_minute = per_minute
        self._p = prefix

    def _fail_key(self, username: str, ip: str) -> str:
        return f"{self._p}:login:fail:{username.lower()}:{ip}"

    async def check(self, username: str, client_ip: str) -> int | None:
        rate_key = f"{self._p}:login:rate:{client_ip}"
        attempts = await self._redis.incr(rate_key)
        if attempts == 1:
            await self._redis.expire(rate_key, 60)
        if attempts > self._per_minute:
            return max(int(await self._redis.ttl(rate_key)), 1)
        fail_key = self._fail_key(username, client_ip)
        failures = int(await self._redis.get(fail_key) or 0)
        if failures >= self._max_failures:
            return max(int(await self._redis.ttl(fail_key)), 1)
        return None

    async def failed(self, username: str, client_ip: str) -> None:
        key = self._fail_key(username, client_ip)
        await self._redis.incr(key)
        await self._redis.expire(key, self._lockout_s)

    async def succeeded(self, username: str, client_ip: str) -> None:
        await self._redis.delete(self._fail_key(username, client_ip))
