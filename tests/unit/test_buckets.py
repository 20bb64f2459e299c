"""Token buckets: the arithmetic, shared through a real Redis, and what happens when it goes."""

from __future__ import annotations

import redis.asyncio as aioredis

from analytics_gateway.backends.buckets import FALLBACK_SECONDS, MemoryBuckets, RedisBuckets
from tests.servers import RedisServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_bucket_starts_full_refills_at_its_rate_and_says_how_long_to_wait() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock)
    assert await buckets.take("t:requests", 2.0, 4.0, 3) == 0.0
    assert await buckets.take("t:requests", 2.0, 4.0, 3) == 1.0  # 1 left, 2 short at 2/s
    clock.now += 1.0
    assert await buckets.take("t:requests", 2.0, 4.0, 3) == 0.0
    clock.now += 100.0  # never more than the burst
    assert await buckets.take("t:requests", 2.0, 4.0, 4) == 0.0
    assert await buckets.take("t:requests", 2.0, 4.0, 1) == 0.5
    assert await buckets.take("u:requests", 2.0, 4.0, 4) == 0.0  # keys are apart


async def test_replicas_draw_from_one_redis_bucket(redis: RedisServer) -> None:
    one = RedisBuckets(aioredis.Redis.from_url(redis.url))
    two = RedisBuckets(aioredis.Redis.from_url(redis.url))
    try:
        assert await one.take("t:requests", 0.01, 3, 2) == 0.0
        assert await two.take("t:requests", 0.01, 3, 1) == 0.0
        wait = await one.take("t:requests", 0.01, 3, 1)
        assert 99.0 < wait <= 100.0  # one token short at 0.01/s
        assert await two.take("u:requests", 0.01, 3, 3) == 0.0
        inspector = aioredis.Redis.from_url(redis.url)
        ttl = await inspector.pttl("ag:bucket:t:requests")
        await inspector.aclose()
        assert 0 < ttl <= 301_000  # gone once it would be full again
    finally:
        await one.close()
        await two.close()


async def test_without_redis_each_process_limits_on_its_own_then_goes_back(
    redis: RedisServer,
) -> None:
    clock = Clock()
    client = aioredis.Redis.from_url(redis.url, socket_timeout=2, socket_connect_timeout=2)
    buckets = RedisBuckets(client, clock=clock)
    try:
        assert await buckets.take("t:requests", 0.01, 2, 2) == 0.0
        redis.stop()
        # still limited (in this process), not refused for everything, not unlimited
        assert await buckets.take("t:requests", 0.01, 2, 2) == 0.0
        assert await buckets.take("t:requests", 0.01, 2, 1) > 0
        redis.start()
        assert await buckets.take("t:requests", 0.01, 2, 1) > 0  # still on the fallback
        clock.now += FALLBACK_SECONDS
        # Redis again: a fresh server (no state kept), so its bucket is full
        assert await buckets.take("t:requests", 0.01, 2, 2) == 0.0
        assert await buckets.take("t:requests", 0.01, 2, 1) > 0
    finally:
        await buckets.close()
