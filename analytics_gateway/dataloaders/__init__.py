"""Per-request loaders; each batch is ONE backend call (decision 4), and a metric batch
that goes to the store one more before it, for its cost (`query_cost`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from analytics_gateway.backends.factory import Backends
from analytics_gateway.config import Settings
from analytics_gateway.dataloaders.event_counts import EventCountLoader, RefuseGrouping
from analytics_gateway.dataloaders.label_values import LabelValuesLoader
from analytics_gateway.dataloaders.metrics import MetricSeriesLoader
from analytics_gateway.dataloaders.query_cache import QueryCache
from analytics_gateway.query_cost import QueryCost
from analytics_gateway.quotas import Quotas


class GroupingRules(Protocol):
    @property
    def refuse_grouping(self) -> RefuseGrouping: ...


class PrivacyRules(Protocol):
    @property
    def sensitive(self) -> GroupingRules: ...


class LoaderSources(Protocol):
    """What loaders read from: the app's services provide all of it."""

    @property
    def backends(self) -> Backends: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Callable[[], int]: ...

    @property
    def quotas(self) -> Quotas: ...

    @property
    def privacy(self) -> PrivacyRules: ...


@dataclass
class Loaders:
    metrics: MetricSeriesLoader
    event_counts: EventCountLoader
    label_values: LabelValuesLoader
    cost: QueryCost | None = None

    @classmethod
    def for_request(cls, services: LoaderSources, tenant: str | None = None) -> Loaders:
        """Fresh loaders (each memoises only its own request) over the shared query cache.

        Every reader builds its loaders here: a GraphQL request, a REST route, each
        refresh of a live dashboard. A request made for `tenant` is costed against its
        quotas; the gateway's own reads (live dashboard refreshes) are not.
        """
        backends = services.backends
        cache = QueryCache(backends.cache, services.settings.cache_ttl_seconds, services.clock)
        cost = QueryCost(tenant, services.quotas) if tenant is not None else None
        return cls(
            cost=cost,
            metrics=MetricSeriesLoader(backends.metrics, backends.prometheus, cache, cost),
            event_counts=EventCountLoader(
                backends.events, services.privacy.sensitive.refuse_grouping
            ),
            label_values=LabelValuesLoader(backends.metrics),
        )

    def release(self) -> None:
        """Forget what was memoised, once the request is answered. An error a resolver
        raised holds its frames, and through them these loaders, whose memo holds the
        error: a cycle only a garbage collection would free, answers and all."""
        for loader in (self.metrics, self.event_counts, self.label_values):
            loader.clear_all()
            loader.batch = None  # the last batch holds its answers too
