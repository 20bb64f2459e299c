"""Behaviour and engagement answers of past ranges, kept in the `Cache`.

As the metric query cache (`dataloaders.query_cache`), but keyed by the
tenant's events generation: every write of the tenant's events bumps it
(`bump`, called by the ingest listener `invalidation`, by erasure and by
retention deletes), and the next read looks under the new key. First-seen
and session answers can change with any event of the tenant, not only those
of one type, so there is one generation per tenant, not per event type. A
range that reaches the present (or ended under `SETTLED_MS` ago) is never
cached, nor an answer over `MAX_ENTRY_BYTES` encoded. A cache that fails is
skipped: the store answers as if there were none.

A read the cache cannot answer is costed first (`query_cost.events_read`):
one point per event of the tenant in its range.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import orjson

from analytics_gateway import query_cost
from analytics_gateway.backends.base import Cache, EventStore
from analytics_gateway.dataloaders.query_cache import SETTLED_MS
from analytics_gateway.errors import BackendUnavailable

log = logging.getLogger(__name__)

GENERATION = "events-generation"
# larger answers are recomputed rather than kept
MAX_ENTRY_BYTES = 1 << 20
T = TypeVar("T")


async def bump(cache: Cache, tenant: str) -> None:
    """After the tenant's events changed: its cached answers are no longer current."""
    try:
        await cache.incr_many(tenant, [GENERATION])
    except BackendUnavailable:
        log.warning("cache unavailable: could not invalidate event answers of %s", tenant)


def invalidation(cache: Cache) -> Callable[[str], Awaitable[None]]:
    """The events listener that keeps this cache honest: stored events bump their tenant."""

    async def stored(tenant: str) -> None:
        await bump(cache, tenant)

    return stored


class RangeQuery(Protocol):
    """A behaviour query: a frozen dataclass over a time range (its repr is its key)."""

    @property
    def start_ms(self) -> int: ...

    @property
    def end_ms(self) -> int: ...


class BehaviourCache:
    def __init__(
        self, cache: Cache, ttl_seconds: float, clock: Callable[[], int], events: EventStore
    ) -> None:
        self._cache = cache
        self._ttl = ttl_seconds
        self._clock = clock
        self._events = events

    def cacheable(self, end_ms: int) -> bool:
        return self._ttl > 0 and end_ms + SETTLED_MS <= self._clock()

    async def answer(
        self,
        tenant: str,
        query: RangeQuery,
        compute: Callable[[], Awaitable[T]],
        decode: Callable[[Any], T],
    ) -> T:
        """The answer to `query` from the cache where current, from `compute` (costed
        first) otherwise. `decode` rebuilds it from its JSON."""

        async def costed() -> T:
            async with query_cost.events_read(
                tenant,
                lambda: self._events.events_in_range(tenant, query.start_ms, query.end_ms),
            ):
                return await compute()

        if not self.cacheable(query.end_ms):
            return await costed()
        try:
            (generation,) = await self._cache.counters(tenant, [GENERATION])
            text = repr((query, generation))
            key = "behaviour:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
            (raw,) = await self._cache.get_many(tenant, [key])
        except BackendUnavailable:
            log.warning("cache unavailable; answering from the store")
            return await costed()
        if raw is not None:
            return decode(orjson.loads(raw))
        found = await costed()
        encoded = orjson.dumps(found)
        if len(encoded) <= MAX_ENTRY_BYTES:
            try:
                await self._cache.set_many(tenant, [(key, encoded)], self._ttl)
            except BackendUnavailable:
                log.warning("cache unavailable; result not kept")
        return found
