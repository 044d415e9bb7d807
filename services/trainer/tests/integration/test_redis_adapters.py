"""The Redis adapters against the embedded Redis: exactly-once counting and the lease lock."""

import asyncio

from claystream_trainer.adapters.redis_counters import RedisLabelCounters
from claystream_trainer.adapters.redis_lock import RedisTrainingLock
from claystream_trainer.domain.ports import DatasetKey
from redis.asyncio import Redis


async def test_counts_each_event_once_and_consume_keeps_later_labels(embedded_stack, unique_name):
    redis = Redis.from_url(embedded_stack.ports.redis_url, decode_responses=True)
    counters = RedisLabelCounters(redis, event_ttl_s=60, prefix=unique_name)
    ds = DatasetKey("acme", "reviews")
    assert await counters.read(ds) is None
    assert await counters.count_once("e1", ds, "positive")
    assert not await counters.count_once("e1", ds, "positive")  # redelivered
    assert await counters.count_once("e2", ds, "negative")
    assert await counters.read(ds) == {"refresh": 2, "finetune": 2, "class:positive": 1, "class:negative": 1}
    await counters.count_once("e3", ds, "negative")  # arrives while a run that saw 2 is training
    await counters.consume(ds, refresh=2, finetune=0)
    assert await counters.read(ds) == {"refresh": 1, "finetune": 3, "class:positive": 0, "class:negative": 0}
    other = DatasetKey("beta", "genres-2")
    await counters.count_once("e4", other, "drama")
    assert await counters.datasets() == [ds, other]  # what a start checks again
    await redis.aclose()


async def test_lease_lock_is_exclusive_renewable_and_expires(embedded_stack, unique_name):
    redis = Redis.from_url(embedded_stack.ports.redis_url, decode_responses=True)
    lock = RedisTrainingLock(redis, prefix=unique_name)
    token = await lock.acquire("ds", 0.5)
    assert token and await lock.acquire("ds", 0.5) is None
    assert await lock.renew("ds", token, 0.5)
    assert not await lock.release("ds", "not-mine")
    assert await lock.release("ds", token)
    crashed = await lock.acquire("ds", 0.3)  # a holder that dies without releasing
    assert crashed
    await asyncio.sleep(0.5)
    assert await lock.acquire("ds", 5) is not None  # its lease simply expired
    assert not await lock.renew("ds", crashed, 5)
    await redis.aclose()
