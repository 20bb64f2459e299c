"""Results of past-range metric queries, kept in the `Cache` (decision 6).

A query whose range ends in the past changes only when a point of its metric
is written, so entries are keyed by the metric's write generation: every
write bumps the generation of each metric it touched (`bump`, called by the
ingest listener `invalidation`), and the next query looks under the new key.
A range that reaches the present (or ended under `SETTLED_MS` ago) is never
cached. A cache that fails is skipped: the store answers as if there were none.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

import orjson

from analytics_gateway.backends.base import Cache
from analytics_gateway.bulk_json import sliced
from analytics_gateway.domain import MetricQuery, PointBatch, Series
from analytics_gateway.errors import BackendUnavailable

log = logging.getLogger(__name__)

Answer = list[Series] | BaseException
SETTLED_MS = 5_000


def generation_counter(metric: str) -> str:
    return f"gen:{metric}"


async def bump(cache: Cache, tenant: str, metrics: Iterable[str]) -> None:
    """After a write: entries of these metrics are no longer current."""
    try:
        await cache.incr_many(tenant, [generation_counter(m) for m in sorted(set(metrics))])
    except BackendUnavailable:
        log.warning("cache unavailable: could not invalidate entries of %s", tenant)


def invalidation(cache: Cache) -> Callable[[PointBatch], Awaitable[None]]:
    """The ingest listener that keeps this cache honest: a stored batch bumps its metrics."""

    async def stored(batch: PointBatch) -> None:
        await bump(cache, batch.tenant, batch.metric_names())

    return stored


def _key(query: MetricQuery, generation: int) -> str:
    text = repr(
        (
            query.name,
            generation,
            query.labels,
            query.start_ms,
            query.end_ms,
            query.step_ms,
            query.aggregation,
            query.group_by,
        )
    )
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


async def _encode(series: list[Series]) -> bytes:
    """One series at a time, yielding between slices: a big answer is no loop stall."""
    parts = []
    columns = [s.columns() for s in series]
    async with sliced(sum(len(ts) for ts, _ in columns)) as slicer:
        for s, (ts, vs) in zip(series, columns, strict=True):
            parts.append(
                orjson.dumps([s.name, s.labels, ts, vs], option=orjson.OPT_SERIALIZE_NUMPY)
            )
            await slicer.encoded(len(ts))
    return b"[" + b",".join(parts) + b"]"


def _decode(raw: bytes) -> list[Series]:
    return [Series(name, labels, ts, values) for name, labels, ts, values in orjson.loads(raw)]


class QueryCache:
    def __init__(self, cache: Cache, ttl_seconds: float, clock: Callable[[], int]) -> None:
        self._cache = cache
        self._ttl = ttl_seconds
        self._clock = clock

    def cacheable(self, query: MetricQuery) -> bool:
        # ended a while ago: a range built from `last` ends when it was asked, and
        # keeping its answer costs an encode no later request (another `now`) uses
        return self._ttl > 0 and query.end_ms + SETTLED_MS <= self._clock()

    async def answer(
        self,
        queries: Sequence[MetricQuery],
        compute: Callable[[list[MetricQuery]], Awaitable[list[Answer]]],
    ) -> list[Answer]:
        """Answers from the cache where current, from `compute` (one call) otherwise."""
        wanted = [i for i, q in enumerate(queries) if self.cacheable(q)]
        found: dict[int, list[Series]] = {}
        keys: dict[int, tuple[str, str]] = {}
        if wanted:
            try:
                keys = await self._keys([queries[i] for i in wanted], wanted)
                by_tenant: dict[str, list[int]] = {}
                for i in wanted:
                    by_tenant.setdefault(queries[i].tenant, []).append(i)
                for tenant, indexes in by_tenant.items():
                    raws = await self._cache.get_many(tenant, [keys[i][1] for i in indexes])
                    found.update(
                        (i, _decode(raw)) for i, raw in zip(indexes, raws, strict=True) if raw
                    )
            except BackendUnavailable:
                log.warning("cache unavailable; answering from the store")
                keys = {}
        missing = [i for i in range(len(queries)) if i not in found]
        computed = await compute([queries[i] for i in missing]) if missing else []
        answers: list[Answer] = [[] for _ in queries]
        for i, series in found.items():
            answers[i] = series
        to_store: dict[str, list[tuple[str, bytes]]] = {}
        for i, answer in zip(missing, computed, strict=True):
            answers[i] = answer
            if i in keys and not isinstance(answer, BaseException):
                tenant, key = keys[i]
                to_store.setdefault(tenant, []).append((key, await _encode(answer)))
        for tenant, items in to_store.items():
            try:
                await self._cache.set_many(tenant, items, self._ttl)
            except BackendUnavailable:
                log.warning("cache unavailable; results not kept")
                break
        return answers

    async def _keys(
        self, queries: list[MetricQuery], indexes: list[int]
    ) -> dict[int, tuple[str, str]]:
        names: dict[str, list[str]] = {}
        for q in queries:
            metrics = names.setdefault(q.tenant, [])
            if q.name not in metrics:
                metrics.append(q.name)
        generations: dict[tuple[str, str], int] = {}
        for tenant, metrics in names.items():
            values = await self._cache.counters(tenant, [generation_counter(m) for m in metrics])
            generations.update(((tenant, m), v) for m, v in zip(metrics, values, strict=True))
        return {
            i: (q.tenant, _key(q, generations[(q.tenant, q.name)]))
            for i, q in zip(indexes, queries, strict=True)
        }
