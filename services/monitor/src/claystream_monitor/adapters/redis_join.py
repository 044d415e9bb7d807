"""Redis: the prediction ↔ feedback join index (expiring keys) and the sample rate limiter."""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from claystream_monitor.services.ports import JoinedPrediction, ModelKey, ParkedFeedback


class RedisJoinIndex:
    """``mon:p:<request id>`` → the prediction; ``mon:f:<request id>`` → feedback waiting for it."""

    def __init__(self, redis: Redis, *, ttl_s: int, prefix: str = "mon") -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._prefix = prefix

    def _p(self, request_id: str) -> str:
        return f"{self._prefix}:p:{request_id}"

    def _f(self, request_id: str) -> str:
        return f"{self._prefix}:f:{request_id}"

    async def remember(self, predictions: list[JoinedPrediction]) -> list[tuple[JoinedPrediction, ParkedFeedback]]:
        if not predictions:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for p in predictions:
                value = json.dumps([p.key.workspace, p.key.model, p.key.version, p.label, None if math.isnan(p.score) else p.score])
                pipe.set(self._p(p.request_id), value, ex=self._ttl_s)
            pipe.mget([self._f(p.request_id) for p in predictions])
            results = await pipe.execute()
        waiting = results[-1]
        matched = []
        for prediction, raw in zip(predictions, waiting, strict=True):
            if raw is not None:
                true_label, signal = json.loads(raw)
                matched.append((prediction, ParkedFeedback(prediction.request_id, true_label, signal)))
        if matched:
            await self._redis.delete(*[self._f(p.request_id) for p, _ in matched])
        return matched

    async def lookup(self, request_ids: list[str]) -> dict[str, JoinedPrediction]:
        if not request_ids:
            return {}
        values = await self._redis.mget([self._p(rid) for rid in request_ids])
        found = {}
        for request_id, raw in zip(request_ids, values, strict=True):
            if raw is not None:
                workspace, model, version, label, score = json.loads(raw)
                found[request_id] = JoinedPrediction(request_id, ModelKey(workspace, model, version), label,
                                                     float("nan") if score is None else float(score))
        return found

    async def drop_model(self, workspace: str | None, model: str) -> int:
        """The remembered predictions of ``model`` in ``workspace`` (a deleted dataset; a scan, rare)."""
        dropped = 0
        async for batch in _batches(self._redis.scan_iter(match=f"{self._prefix}:p:*", count=1000), 500):
            values = await self._redis.mget(batch)
            doomed = [key for key, raw in zip(batch, values, strict=True)
                      if raw is not None and json.loads(raw)[:2] == [workspace, model]]
            if doomed:
                dropped += await self._redis.delete(*doomed)
        return dropped

    async def park(self, feedback: list[ParkedFeedback]) -> None:
        if not feedback:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for item in feedback:
                pipe.set(self._f(item.request_id), json.dumps([item.true_label, item.signal]), ex=self._ttl_s)
            await pipe.execute()


class RedisRateLimiter:
    """A fixed-window budget per key (INCRBY + EXPIRE), shared by every monitor replica."""

    def __init__(self, redis: Redis, *, prefix: str = "mon:rl") -> None:
        self._redis = redis
        self._prefix = prefix

    async def take(self, key: str, wanted: int, *, limit: int, period_s: int) -> int:
        if wanted <= 0 or limit <= 0:
            return 0
        bucket = f"{self._prefix}:{key}:{int(time.time()) // period_s}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(bucket, wanted)
            pipe.expire(bucket, period_s * 2)
            used, _ = await pipe.execute()
        before = int(used) - wanted
        return max(0, min(wanted, limit - before))


async def _batches(keys: AsyncIterator[str], size: int) -> AsyncIterator[list[str]]:
    batch: list[str] = []
    async for key in keys:
        batch.append(key)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
