"""Per-request loaders; each batch is ONE backend call (decision 4)."""

from __future__ import annotations

from dataclasses import dataclass

from analytics_gateway.backends.base import EventStore, MetricStore, PromQLSource
from analytics_gateway.dataloaders.event_counts import EventCountLoader
from analytics_gateway.dataloaders.metrics import MetricSeriesLoader


@dataclass
class Loaders:
    metrics: MetricSeriesLoader
    event_counts: EventCountLoader

    @classmethod
    def create(
        cls, metrics: MetricStore, events: EventStore, prometheus: PromQLSource | None = None
    ) -> Loaders:
        return cls(
            metrics=MetricSeriesLoader(metrics, prometheus),
            event_counts=EventCountLoader(events),
        )
