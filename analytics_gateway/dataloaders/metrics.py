"""Series for metric queries: all `metrics` fields of a request in one store call."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from analytics_gateway.backends.base import MetricStore
from analytics_gateway.domain import MetricQuery, Series


class MetricSeriesLoader(DataLoader[MetricQuery, list[Series]]):
    def __init__(self, store: MetricStore) -> None:
        super().__init__(load_fn=self._load)
        self._store = store

    async def _load(self, keys: Sequence[MetricQuery]) -> list[list[Series]]:
        return await self._store.query_many(list(keys))
