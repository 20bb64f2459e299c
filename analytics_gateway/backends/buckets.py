"""Token buckets for per-tenant rate limits: in Redis (shared by replicas) or in process.

When Redis cannot answer, each process limits on its own buckets for
`FALLBACK_SECONDS` before it asks Redis again: a Redis blip neither refuses
every tenant nor lifts every limit, and a stalled Redis costs one timeout per
interval, not one per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

FALLBACK_SECONDS = 5.0


class MemoryBuckets:
    """Token buckets of this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, rate: float, burst: float, amount: float) -> float:
        now = self._clock()
        tokens, at = self._state.get(key, (burst, now))
        tokens = min(burst, tokens + (now - at) * rate)
        if tokens >= amount:
            self._state[key] = (tokens - amount, now)
            return 0.0
        self._state[key] = (tokens, now)
        return (amount - tokens) / rate

    async def close(self) -> None:
        return None


_TAKE = """
local rate, burst, amount = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= amount then tokens = tokens - amount else wait = (amount - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisBuckets:
    """Token buckets every replica shares: one Lua call, on Redis's clock."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "ag:bucket:",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._take = client.register_script(_TAKE)
        self._prefix = prefix
        self._clock = clock
        self._fallback = MemoryBuckets(clock)
        self._redis_back_at = 0.0

    async def take(self, key: str, rate: float, burst: float, amount: float) -> float:
        if self._clock() < self._redis_back_at:
            return await self._fallback.take(key, rate, burst, amount)
        try:
            wait = await self._take(keys=[self._prefix + key], args=[rate, burst, amount])
        except (RedisError, OSError) as exc:
            log.warning(
                "rate limits: Redis unavailable (%s); limiting per process for %g s",
                exc,
                FALLBACK_SECONDS,
            )
            self._redis_back_at = self._clock() + FALLBACK_SECONDS
            return await self._fallback.take(key, rate, burst, amount)
        return float(wait)

    async def close(self) -> None:
        await self._client.aclose()
