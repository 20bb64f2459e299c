"""Bucketed event counts: all `eventCounts` fields of a request in one store call.

Counts grouped by a tenant's sensitive metadata key are refused per key
(`privacy.sensitive`): its sealed values never repeat, so no group would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from strawberry.dataloader import DataLoader

from analytics_gateway import tracing
from analytics_gateway.backends.base import EventStore
from analytics_gateway.dataloaders.weak_load import WeakLoad
from analytics_gateway.domain import EventCountQuery, Series
from analytics_gateway.errors import GatewayError

RefuseGrouping = Callable[[str, str | None, str], Awaitable[None]]
"""(tenant, groupBy key, field) -> raises when the key may not be grouped on."""


class EventCountLoader(DataLoader[EventCountQuery, list[Series]]):
    def __init__(self, store: EventStore, refuse_grouping: RefuseGrouping | None = None) -> None:
        super().__init__(load_fn=WeakLoad(self._load))
        self._store = store
        self._refuse_grouping = refuse_grouping

    async def _load(self, keys: Sequence[EventCountQuery]) -> list[list[Series] | BaseException]:
        with tracing.span("dataloader event_counts", {"dataloader.keys": len(keys)}):
            return await self._load_batch(keys)

    async def _load_batch(
        self, keys: Sequence[EventCountQuery]
    ) -> list[list[Series] | BaseException]:
        refused: list[BaseException | None] = [None] * len(keys)
        if self._refuse_grouping is not None:
            for i, key in enumerate(keys):
                if key.group_by is not None:
                    try:
                        await self._refuse_grouping(key.tenant, key.group_by, "groupBy")
                    except GatewayError as exc:
                        refused[i] = exc
        asked = [key for key, no in zip(keys, refused, strict=True) if no is None]
        answers = iter(await self._store.count_events_many(asked) if asked else [])
        return [no if no is not None else next(answers) for no in refused]
