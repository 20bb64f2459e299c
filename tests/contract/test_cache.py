"""One contract for every Cache: the in-process one and Redis (a real server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from analytics_gateway.backends.base import Cache
from analytics_gateway.backends.factory import build_cache
from analytics_gateway.backends.memory_cache import MemoryCache
from analytics_gateway.backends.redis_cache import RedisCache
from analytics_gateway.errors import BackendUnavailable
from tests.conftest import make_settings
from tests.servers import RedisServer


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cache]:
    url = "memory://"
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis")
        url = server.url
    instance = build_cache(make_settings(tmp_path, cache_url=url, backend_timeout_seconds=0.5))
    assert isinstance(instance, MemoryCache if request.param == "memory" else RedisCache)
    yield instance
    await instance.close()


async def test_get_many_answers_in_order_with_misses(cache: Cache) -> None:
    await cache.set_many("acme", [("a", b"1"), ("c", b"3")], ttl_seconds=30)
    assert await cache.get_many("acme", ["c", "missing", "a", "c"]) == [b"3", None, b"1", b"3"]
    assert await cache.get_many("acme", []) == []
    await cache.set_many("acme", [], ttl_seconds=30)


async def test_set_overwrites_and_last_duplicate_wins(cache: Cache) -> None:
    await cache.set_many("acme", [("a", b"old")], ttl_seconds=30)
    await cache.set_many("acme", [("a", b"new"), ("b", b"x"), ("b", b"\x00binary\xff")], 30)
    assert await cache.get_many("acme", ["a", "b"]) == [b"new", b"\x00binary\xff"]


async def test_entries_expire_after_their_ttl(cache: Cache) -> None:
    await cache.incr_many("acme", ["writes"])
    await cache.set_many("acme", [("short", b"s")], ttl_seconds=0.2)
    await cache.set_many("acme", [("long", b"l")], ttl_seconds=30)
    assert await cache.get_many("acme", ["short", "long"]) == [b"s", b"l"]
    await asyncio.sleep(0.35)
    assert await cache.get_many("acme", ["short", "long"]) == [None, b"l"]
    assert await cache.counters("acme", ["writes"]) == [1]


async def test_a_zero_ttl_replaces_an_entry_with_nothing(cache: Cache) -> None:
    await cache.set_many("acme", [("a", b"1"), ("b", b"2")], ttl_seconds=30)
    await cache.set_many("acme", [("a", b"new")], ttl_seconds=0)
    assert await cache.get_many("acme", ["a", "b"]) == [None, b"2"]


async def test_tenants_never_see_each_others_entries_or_counters(cache: Cache) -> None:
    await cache.set_many("acme", [("q", b"acme"), ("b:c", b"acme b:c")], ttl_seconds=30)
    await cache.set_many("globex", [("q", b"globex")], ttl_seconds=30)
    assert await cache.get_many("acme", ["q"]) == [b"acme"]
    assert await cache.get_many("globex", ["q", "b:c"]) == [b"globex", None]
    # a tenant and key must not spell another tenant's entry
    assert await cache.get_many("acme:b", ["c"]) == [None]
    assert await cache.get_many("acme%3Ab", ["c"]) == [None]
    assert await cache.get_many("initech", ["q"]) == [None]

    await cache.incr_many("acme", ["writes", "writes"])
    assert await cache.counters("acme", ["writes"]) == [2]
    assert await cache.counters("globex", ["writes"]) == [0]


async def test_counters_start_at_zero_and_are_apart_from_entries(cache: Cache) -> None:
    assert await cache.counters("acme", ["a", "b"]) == [0, 0]
    await cache.incr_many("acme", ["a", "b", "a"])
    await cache.incr_many("acme", ["a"])
    await cache.incr_many("acme", [])
    assert await cache.counters("acme", ["b", "a", "never"]) == [1, 3, 0]
    assert await cache.counters("acme", []) == []
    assert await cache.get_many("acme", ["a"]) == [None]
    await cache.set_many("acme", [("b", b"entry")], ttl_seconds=30)
    assert await cache.counters("acme", ["b"]) == [1]


async def test_ping_answers_while_up(cache: Cache) -> None:
    assert await cache.ping() is True


async def test_redis_outage_is_backend_unavailable_and_recovers(
    redis: RedisServer, tmp_path: Path
) -> None:
    cache = build_cache(make_settings(tmp_path, cache_url=redis.url, backend_timeout_seconds=0.5))
    try:
        await cache.incr_many("acme", ["a"])

        redis.pause()
        started = time.monotonic()
        with pytest.raises(BackendUnavailable):
            await cache.get_many("acme", ["q"])
        assert time.monotonic() - started < 1.5, "a stalled Redis must fail within the timeout"
        redis.resume()

        redis.stop()
        with pytest.raises(BackendUnavailable):
            await cache.get_many("acme", ["q"])
        with pytest.raises(BackendUnavailable):
            await cache.set_many("acme", [("q", b"1")], ttl_seconds=30)
        with pytest.raises(BackendUnavailable):
            await cache.incr_many("acme", ["a"])
        with pytest.raises(BackendUnavailable):
            await cache.counters("acme", ["a"])
        assert await cache.ping() is False

        redis.start()  # pooled connections died with the old process
        assert await cache.counters("acme", ["a"]) == [0]
        assert await cache.ping() is True
    finally:
        await cache.close()


async def test_redis_first_call_after_a_restart_succeeds(
    redis: RedisServer, tmp_path: Path
) -> None:
    cache = build_cache(make_settings(tmp_path, cache_url=redis.url, backend_timeout_seconds=0.5))
    try:
        await cache.incr_many("acme", ["a"])
        redis.stop()
        redis.start()
        await cache.incr_many("acme", ["a"])
        assert await cache.counters("acme", ["a"]) == [1]
    finally:
        await cache.close()
