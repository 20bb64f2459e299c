"""Label values (dashboard variable options, `labelValues`): one store call per batch."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from analytics_gateway import tracing
from analytics_gateway.backends.base import MetricStore
from analytics_gateway.dataloaders.weak_load import WeakLoad
from analytics_gateway.domain import LabelValuesQuery


class LabelValuesLoader(DataLoader[LabelValuesQuery, list[str]]):
    def __init__(self, store: MetricStore) -> None:
        super().__init__(load_fn=WeakLoad(self._load))
        self._store = store

    async def _load(self, keys: Sequence[LabelValuesQuery]) -> list[list[str]]:
        with tracing.span("dataloader label_values", {"dataloader.keys": len(keys)}):
            return await self._load_batch(keys)

    async def _load_batch(self, keys: Sequence[LabelValuesQuery]) -> list[list[str]]:
        return await self._store.label_values_many(list(keys))
