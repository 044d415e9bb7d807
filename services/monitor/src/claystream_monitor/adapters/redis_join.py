"""Redis: the prediction ↔ feedback join index (expiring keys) and the sample rate limiter."""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import AsyncIterator
from json.encoder import encode_basestring_ascii  # what json.dumps uses for a str (ensure_ascii)

from redis.asyncio import Redis

from claystream_monitor.services.ports import JoinedPrediction, ModelKey, ParkedFeedback, RequestRef


@functools.lru_cache(maxsize=1024)
def _ref_prefix(workspace: str, model: str) -> str:
    return json.dumps([workspace, model], separators=(",", ":"))[:-1] + ","


def _ref_text(workspace: str | None, model: str | None, request_id: str) -> str:
    """``json.dumps([workspace or "", model or "", request_id], separators=(",", ":"))``, with the
    workspace-and-model prefix encoded once (four keys an event, thousands of events a second)."""
    return f"{_ref_prefix(workspace or '', model or '')}{encode_basestring_ascii(request_id)}]"


@functools.lru_cache(maxsize=1024)
def _value_prefix(workspace: str | None, model: str, version: str | None) -> str:
    return json.dumps([workspace, model, version])[:-1] + ", "


def _value(prediction: JoinedPrediction) -> str:
    """``json.dumps([workspace, model, version, label, score])``, with the model's part encoded once."""
    key, score = prediction.key, prediction.score
    if math.isinf(score):  # json's own spelling ("Infinity"): rare, left to json
        return json.dumps([key.workspace, key.model, key.version, prediction.label, score])
    return (f"{_value_prefix(key.workspace, key.model, key.version)}{encode_basestring_ascii(prediction.label)}, "
            f"{'null' if math.isnan(score) else float.__repr__(score)}]")


REMEMBER_CHUNK = 500  # predictions per script call (4 keys each)

# KEYS: the predictions' keys (two per prediction: with its model, with none), then the feedback keys in the
# same order; ARGV: the TTL, then each prediction's value (its two keys share it).  Sets every prediction key and
# returns, flat, the position (1-based, among the feedback keys) and value of each feedback waiting: nearly
# always none.  One call instead of a SET per key: at thousands of predictions a second the per-command cost of
# a pipeline was a fifth of the monitor's time, and a reply of one nil per key was still a tenth of this call.
_REMEMBER = """
local half = #KEYS / 2
for i = 1, half do
  redis.call('SET', KEYS[i], ARGV[math.floor((i + 1) / 2) + 1], 'EX', ARGV[1])
end
local waiting = {}
for i = half + 1, #KEYS do
  local value = redis.call('GET', KEYS[i])
  if value then
    waiting[#waiting + 1] = i - half
    waiting[#waiting + 1] = value
  end
end
return waiting
"""


class RedisJoinIndex:
    """``mon:p:<ref>`` → the prediction; ``mon:f:<ref>`` → feedback waiting for it, where ``<ref>``
    is ``[workspace, model or "", request id]`` as JSON (unambiguous whatever the names hold).
    A prediction is indexed twice, with its model and with none, so feedback that names no model
    still joins within its workspace, and never across workspaces."""

    def __init__(self, redis: Redis, *, ttl_s: int, prefix: str = "mon") -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._prefix = prefix
        self._remember_script = redis.register_script(_REMEMBER)

    @staticmethod
    def _ref(ref: RequestRef) -> str:
        return _ref_text(ref.workspace, ref.model, ref.request_id)

    def _p(self, ref: RequestRef) -> str:
        return f"{self._prefix}:p:{self._ref(ref)}"

    def _f(self, ref: RequestRef) -> str:
        return f"{self._prefix}:f:{self._ref(ref)}"

    async def remember(self, predictions: list[JoinedPrediction]) -> list[tuple[JoinedPrediction, ParkedFeedback]]:
        if not predictions:
            return []
        waiting: dict[int, str] = {}  # feedback found, by its key's position (2 per prediction)
        # the two refs of each prediction (with its model, with none), as key suffixes: no RequestRef objects for
        # the thousands of predictions a second that find no feedback waiting
        suffixes = [(_ref_text(p.key.workspace, p.key.model, p.request_id), _ref_text(p.key.workspace, None, p.request_id))
                    for p in predictions]
        p_prefix, f_prefix = f"{self._prefix}:p:", f"{self._prefix}:f:"
        for start in range(0, len(predictions), REMEMBER_CHUNK):
            chunk, chunk_suffixes = predictions[start:start + REMEMBER_CHUNK], suffixes[start:start + REMEMBER_CHUNK]
            keys = ([p_prefix + suffix for pair in chunk_suffixes for suffix in pair]
                    + [f_prefix + suffix for pair in chunk_suffixes for suffix in pair])
            found = await self._remember_script(keys=keys, args=[self._ttl_s, *map(_value, chunk)])
            for position, raw in zip(found[::2], found[1::2], strict=True):
                waiting[2 * start + int(position) - 1] = raw
        matched = []
        used: list[str] = []
        for i in sorted({position // 2 for position in waiting}):
            prediction = predictions[i]
            for ref, raw in zip(prediction.refs, (waiting.get(2 * i), waiting.get(2 * i + 1)), strict=True):
                if raw is not None:
                    true_label, signal = json.loads(raw)
                    matched.append((prediction, ParkedFeedback(prediction.request_id, true_label, signal, ref.workspace, ref.model)))
                    used.append(self._f(ref))
                    break  # the feedback naming this model first; a model-less one waits for the next
        if used:
            await self._redis.delete(*used)
        return matched

    async def lookup(self, refs: list[RequestRef]) -> dict[RequestRef, JoinedPrediction]:
        if not refs:
            return {}
        values = await self._redis.mget([self._p(ref) for ref in refs])
        found = {}
        for ref, raw in zip(refs, values, strict=True):
            if raw is not None:
                workspace, model, version, label, score = json.loads(raw)
                found[ref] = JoinedPrediction(ref.request_id, ModelKey(workspace, model, version), label,
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
                pipe.set(self._f(item.ref), json.dumps([item.true_label, item.signal]), ex=self._ttl_s)
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
