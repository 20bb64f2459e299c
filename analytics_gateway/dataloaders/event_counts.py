"""Bucketed event counts: all `eventCounts` fields of a request in one store call."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from analytics_gateway import tracing
from analytics_gateway.backends.base import EventStore
from analytics_gateway.domain import EventCountQuery, Series


class EventCountLoader(DataLoader[EventCountQuery, list[Series]]):
    def __init__(self, store: EventStore) -> None:
        super().__init__(load_fn=self._load)
        self._store = store

    async def _load(self, keys: Sequence[EventCountQuery]) -> list[list[Series]]:
        with tracing.span("dataloader event_counts", {"dataloader.keys": len(keys)}):
            return await self._load_batch(keys)

    async def _load_batch(self, keys: Sequence[EventCountQuery]) -> list[list[Series]]:
        return await self._store.count_events_many(list(keys))
