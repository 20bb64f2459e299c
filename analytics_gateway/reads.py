"""`Reads`: the reads no dataloader batches, behind one service for resolvers and REST.

Metric names, label names, event types, label values from Prometheus, the
PromQL passthrough and pages of events are one call each per request field, so
they need no loader; they still go through here, not from resolvers to
backends, so that "which source, and is it configured" is decided in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from analytics_gateway.backends.base import EventStore, MetricStore, PromQLSource
from analytics_gateway.dataloaders.metrics import NOT_CONFIGURED
from analytics_gateway.domain import Event, EventQuery, MetricSource, Series
from analytics_gateway.errors import BadUserInput

EVENT_TYPES_LIMIT = 1000


class Reads:
    def __init__(
        self,
        metrics: MetricStore,
        events: EventStore,
        prometheus: PromQLSource | None,
        opened: Callable[[Sequence[Event]], list[Event]] | None = None,
    ) -> None:
        # events as their tenant sees them: sensitive metadata values opened
        self._opened = opened
        self._metrics = metrics
        self._events = events
        self._prometheus = prometheus

    def _source(self) -> PromQLSource:
        if self._prometheus is None:
            raise BadUserInput(NOT_CONFIGURED, field="source")
        return self._prometheus

    async def metric_names(
        self, tenant: str, prefix: str | None, source: MetricSource = MetricSource.STORE
    ) -> list[str]:
        if source is MetricSource.PROMETHEUS:
            return await self._source().metric_names(tenant, prefix)
        return await self._metrics.metric_names(tenant, prefix)

    async def label_names(self, tenant: str, metric: str) -> list[str]:
        return await self._metrics.label_names(tenant, metric)

    async def event_types(self, tenant: str) -> list[str]:
        return await self._events.event_types(tenant, EVENT_TYPES_LIMIT)

    async def prometheus_label_values(self, tenant: str, metric: str, label: str) -> list[str]:
        return await self._source().label_values(tenant, metric, label)

    async def promql(
        self, tenant: str, query: str, start_ms: int, end_ms: int, step_ms: int
    ) -> list[Series]:
        return await self._source().promql(tenant, query, start_ms, end_ms, step_ms)

    async def events(self, query: EventQuery) -> list[Event]:
        found = await self._events.query_events(query)
        return self._opened(found) if self._opened is not None else found
