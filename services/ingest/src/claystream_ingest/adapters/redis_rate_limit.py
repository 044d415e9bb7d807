"""Per-key token bucket in Redis (one atomic script call per request)."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from claystream_ingest.services.ports import RateDecision

log = logging.getLogger(__name__)

TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate) end
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(retry)}
"""


class RedisRateLimiter:
    """``rate_per_s`` requests per second per subject, up to ``burst`` at once; fails open on Redis errors."""

    def __init__(self, redis: Redis, *, rate_per_s: float, burst: int) -> None:
        self._script = redis.register_script(TOKEN_BUCKET)
        self._rate = rate_per_s
        self._burst = burst

    async def hit(self, subject: str) -> RateDecision:
        try:
            allowed, retry = await self._script(
                keys=[f"claystream:ingest:ratelimit:{subject}"], args=[self._rate, self._burst, f"{time.time():.6f}"]
            )
        except RedisError as error:
            log.warning("rate limiter unavailable, letting the request through: %r", error)
            return RateDecision(allowed=True)
        return RateDecision(allowed=bool(int(allowed)), retry_after_s=float(retry))
