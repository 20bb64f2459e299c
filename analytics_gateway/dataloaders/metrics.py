"""Series for metric queries: all `metrics` fields of a request in one store call.

Queries for the Prometheus source go to it concurrently, beside that one
store call; each field gets its own result or its own error, so one source
failing leaves the other's fields answered. Store queries over a range that
ended are answered from the query cache when it holds them; the others are
costed (`query_cost`) before they run, or, when light (`query_cost.is_light`),
read in the same store call as their series are counted and
charged before they are answered: one wait for the store's turn instead of two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from analytics_gateway import tracing
from analytics_gateway.backends import read_budget
from analytics_gateway.backends.base import MetricStore, PromQLSource
from analytics_gateway.dataloaders.query_cache import QueryCache
from analytics_gateway.dataloaders.weak_load import WeakLoad
from analytics_gateway.domain import MetricQuery, MetricSource, Series
from analytics_gateway.errors import BadUserInput
from analytics_gateway.query_cost import QueryCost, estimate, is_light

NOT_CONFIGURED = "the PROMETHEUS source is not configured (set ANALYTICS_PROMETHEUS_URL)"


class MetricSeriesLoader(DataLoader[MetricQuery, list[Series]]):
    def __init__(
        self,
        store: MetricStore,
        prometheus: PromQLSource | None = None,
        cache: QueryCache | None = None,
        cost: QueryCost | None = None,
    ) -> None:
        super().__init__(load_fn=WeakLoad(self._load))
        self._store = store
        self._prometheus = prometheus
        self._cache = cache
        self._cost = cost

    async def _load(self, keys: Sequence[MetricQuery]) -> list[list[Series] | BaseException]:
        with tracing.span("dataloader metrics", {"dataloader.keys": len(keys)}):
            return await self._load_batch(keys)

    async def _load_batch(self, keys: Sequence[MetricQuery]) -> list[list[Series] | BaseException]:
        stored = [q for q in keys if q.source is MetricSource.STORE]
        remote = [q for q in keys if q.source is MetricSource.PROMETHEUS]
        if not remote and self._cache is None and self._cost is None:
            return list(await self._store.query_many(stored))
        store_part, remote_part = await asyncio.gather(
            self._from_store(stored), self._from_prometheus(remote)
        )
        answers = iter(store_part), iter(remote_part)
        return [next(answers[q.source is MetricSource.PROMETHEUS]) for q in keys]

    async def _from_store(self, queries: list[MetricQuery]) -> list[list[Series] | BaseException]:
        if not queries:
            return []
        if self._cache is not None:
            return await self._cache.answer(queries, self._query_store)
        return await self._query_store(queries)

    async def _query_store(self, queries: list[MetricQuery]) -> list[list[Series] | BaseException]:
        try:
            if self._cost is None:
                return list(await self._store.query_many(queries))
            await self._cost.has_budget()
            series, answers = await self._store.read_if_light(
                queries, lambda counts: is_light(queries, counts)
            )
            points = estimate(queries, series)
            await self._cost.charge(points)  # a light read refused here is not answered
            if answers is not None:
                return list(answers)
            with read_budget.granted(sum(series)):
                async with self._cost.reading(points):  # one heavy read at a time
                    return list(await self._store.query_many(queries))
        except Exception as exc:
            return [exc] * len(queries)

    async def _from_prometheus(
        self, queries: list[MetricQuery]
    ) -> list[list[Series] | BaseException]:
        if self._prometheus is None:
            return [BadUserInput(NOT_CONFIGURED, field="source")] * len(queries)
        return list(await self._prometheus.query_many(queries))
