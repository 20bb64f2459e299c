"""Redis `Cache`: query results shared by every replica, one round trip per call.

    ag:cache:<tenant>:<key>      STRING  cached bytes, expiring after the TTL (PX)
    ag:count:<tenant>:<counter>  STRING  counter, never expires

The tenant is percent-encoded, so no tenant and key can spell another
tenant's entry; entries and counters live under different prefixes.
Give the cache Redis `maxmemory` with `maxmemory-policy volatile-lru` (or
`volatile-ttl`): only entries carry a TTL, so counters are never evicted. An
evicted counter would restart at 0 and could match an old entry. The cache
needs no persistence: after a restart entries and counters start empty
together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from urllib.parse import quote

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from analytics_gateway.errors import BackendUnavailable


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise BackendUnavailable("cache (redis) is unavailable", backend="cache") from exc


class RedisCache:
    def __init__(self, client: aioredis.Redis, prefix: str = "ag:") -> None:
        self._client = client
        self._prefix = prefix

    def _keys(self, space: str, tenant: str, names: Sequence[str]) -> list[str]:
        scope = f"{self._prefix}{space}:{quote(tenant, safe='')}:"
        return [scope + name for name in names]

    async def get_many(self, tenant: str, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        with _unavailable():
            found = await self._client.mget(self._keys("cache", tenant, keys))
        return [value.encode() if isinstance(value, str) else value for value in found]

    async def set_many(
        self, tenant: str, items: Sequence[tuple[str, bytes]], ttl_seconds: float
    ) -> None:
        if not items:
            return
        names = self._keys("cache", tenant, [key for key, _ in items])
        ttl_ms = round(ttl_seconds * 1000)
        with _unavailable():
            if ttl_ms <= 0:  # expired on arrival: only the older values must go
                await self._client.delete(*names)
                return
            async with self._client.pipeline(transaction=False) as pipe:
                for name, (_, value) in zip(names, items, strict=True):
                    pipe.set(name, value, px=ttl_ms)
                await pipe.execute()

    async def incr_many(self, tenant: str, counters: Sequence[str]) -> None:
        if not counters:
            return
        with _unavailable():
            async with self._client.pipeline(transaction=False) as pipe:
                for name in self._keys("count", tenant, counters):
                    pipe.incr(name)
                await pipe.execute()

    async def counters(self, tenant: str, counters: Sequence[str]) -> list[int]:
        if not counters:
            return []
        with _unavailable():
            values = await self._client.mget(self._keys("count", tenant, counters))
        return [0 if value is None else int(value) for value in values]

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()
