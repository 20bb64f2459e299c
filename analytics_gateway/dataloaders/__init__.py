"""Per-request loaders; each batch is ONE backend call (decision 4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from analytics_gateway.backends.factory import Backends
from analytics_gateway.config import Settings
from analytics_gateway.dataloaders.event_counts import EventCountLoader
from analytics_gateway.dataloaders.label_values import LabelValuesLoader
from analytics_gateway.dataloaders.metrics import MetricSeriesLoader
from analytics_gateway.dataloaders.query_cache import QueryCache


class LoaderSources(Protocol):
    """What loaders read from: the app's services provide all three."""

    @property
    def backends(self) -> Backends: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Callable[[], int]: ...


@dataclass
class Loaders:
    metrics: MetricSeriesLoader
    event_counts: EventCountLoader
    label_values: LabelValuesLoader

    @classmethod
    def for_request(cls, services: LoaderSources) -> Loaders:
        """Fresh loaders (each memoises only its own request) over the shared query cache.

        Every reader builds its loaders here: a GraphQL request, a REST route, each
        refresh of a live dashboard.
        """
        backends = services.backends
        cache = QueryCache(backends.cache, services.settings.cache_ttl_seconds, services.clock)
        return cls(
            metrics=MetricSeriesLoader(backends.metrics, backends.prometheus, cache),
            event_counts=EventCountLoader(backends.events),
            label_values=LabelValuesLoader(backends.metrics),
        )
