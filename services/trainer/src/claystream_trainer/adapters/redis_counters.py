"""Per-dataset label counters in Redis, counted exactly once per event id (SET NX + HINCRBY in one Lua script)."""

from __future__ import annotations

from redis.asyncio import Redis

from claystream_trainer.domain.ports import DatasetKey

_COUNT_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('HINCRBY', KEYS[2], 'refresh', 1)
  redis.call('HINCRBY', KEYS[2], 'finetune', 1)
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  return 1
end
return 0
"""

_CONSUME = """
local fields = redis.call('HGETALL', KEYS[1])
redis.call('HINCRBY', KEYS[1], 'refresh', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'finetune', ARGV[2])
if tonumber(ARGV[1]) < 0 then
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 6) == 'class:' then redis.call('HSET', KEYS[1], fields[i], 0) end
  end
end
if tonumber(redis.call('HGET', KEYS[1], 'refresh')) < 0 then redis.call('HSET', KEYS[1], 'refresh', 0) end
if tonumber(redis.call('HGET', KEYS[1], 'finetune')) < 0 then redis.call('HSET', KEYS[1], 'finetune', 0) end
return 1
"""


class RedisLabelCounters:
    def __init__(self, redis: Redis, *, event_ttl_s: int, prefix: str = "trainer") -> None:
        self._redis = redis
        self._ttl = event_ttl_s
        self._prefix = prefix
        self._count_once = redis.register_script(_COUNT_ONCE)
        self._consume = redis.register_script(_CONSUME)

    def _hash(self, dataset: DatasetKey) -> str:
        return f"{self._prefix}:counts:{dataset.workspace}:{dataset.dataset}"

    async def count_once(self, event_id: str, dataset: DatasetKey, label: str) -> bool:
        seen = f"{self._prefix}:counted:{event_id}"
        return bool(await self._count_once(keys=[seen, self._hash(dataset)], args=[self._ttl, f"class:{label}"]))

    async def read(self, dataset: DatasetKey) -> dict[str, int] | None:
        raw = await self._redis.hgetall(self._hash(dataset))
        if not raw:
            return None
        return {key: int(value) for key, value in raw.items()}

    async def consume(self, dataset: DatasetKey, *, refresh: int, finetune: int) -> None:
        await self._consume(keys=[self._hash(dataset)], args=[str(-refresh), str(-finetune)])

    async def drop(self, dataset: DatasetKey) -> None:
        """The dataset's counters (the per-event ``counted`` marks expire by themselves: event ids are never reused)."""
        await self._redis.delete(self._hash(dataset))

    async def datasets(self) -> list[DatasetKey]:
        prefix = f"{self._prefix}:counts:"
        found = []
        async for key in self._redis.scan_iter(match=f"{prefix}*", count=1000):
            workspace, _, dataset = (key.decode() if isinstance(key, bytes) else key)[len(prefix):].partition(":")
            found.append(DatasetKey(workspace, dataset))  # names never hold ':' (NAME_PATTERN)
        return sorted(found, key=str)

    async def reset_to(self, dataset: DatasetKey, *, refresh: int, finetune: int) -> None:
        await self._redis.hset(self._hash(dataset), mapping={"refresh": refresh, "finetune": finetune})
