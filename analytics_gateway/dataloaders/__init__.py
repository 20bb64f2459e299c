"""Per-request loaders; each batch is ONE backend call (decision 4)."""

from __future__ import annotations

from dataclasses import dataclass

from analytics_gateway.backends.base import EventStore, MetricStore, PromQLSource
from analytics_gateway.dataloaders.event_counts import EventCountLoader
from analytics_gateway.dataloaders.metrics import MetricSeriesLoader
from analytics_gateway.dataloaders.query_cache import QueryCache


@dataclass
class Loaders:
    metrics: MetricSeriesLoader
    event_counts: EventCountLoader

    @classmethod
    def create(
        cls,
        metrics: MetricStore,
        events: EventStore,
        prometheus: PromQLSource | None = None,
        cache: QueryCache | None = None,
    ) -> Loaders:
        return cls(
            metrics=MetricSeriesLoader(metrics, prometheus, cache),
            event_counts=EventCountLoader(events),
        )
