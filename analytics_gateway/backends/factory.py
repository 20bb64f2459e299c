"""Build backends from store URLs in `Settings` (decision 6).

One `build_*` function per backend kind dispatches on the URL's scheme, so a
new store is one branch in one function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

import redis.asyncio as aioredis

from analytics_gateway.backends.base import Broker, Cache, ConfigStore, EventStore, MetricStore
from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.backends.memory_broker import MemoryBroker
from analytics_gateway.backends.memory_cache import MemoryCache
from analytics_gateway.backends.redis_broker import RedisBroker
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.config import Settings


@dataclass
class Backends:
    metrics: MetricStore
    events: EventStore
    config: ConfigStore
    broker: Broker
    cache: Cache = field(default_factory=MemoryCache)

    async def close(self) -> None:
        closed: set[int] = set()
        for backend in (self.broker, self.metrics, self.events, self.config, self.cache):
            if id(backend) not in closed:
                closed.add(id(backend))
                await backend.close()


def _path_of(url: str) -> str:
    parsed = urlparse(url)
    return (parsed.netloc + parsed.path) if parsed.netloc else parsed.path


def _scheme(url: str) -> str:
    return urlparse(url).scheme


def _unsupported(variable: str, url: str, choices: str) -> ValueError:
    return ValueError(f"{variable}: unsupported scheme {_scheme(url)!r} (use {choices})")


def _redis_client(url: str, settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url,
        socket_timeout=settings.backend_timeout_seconds,
        socket_connect_timeout=settings.backend_timeout_seconds,
    )


class _DuckDBFiles:
    """Metrics and events on the same DuckDB file share one store (one writer)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stores: dict[str, DuckDBStore] = {}

    def get(self, url: str) -> DuckDBStore:
        path = _path_of(url)
        if path not in self._stores:
            self._stores[path] = DuckDBStore(
                path,
                timeout_seconds=self._settings.backend_timeout_seconds,
                max_points=self._settings.limits.max_points_per_request,
            )
        return self._stores[path]


def build_metric_store(settings: Settings, files: _DuckDBFiles) -> MetricStore:
    url = settings.resolved_metrics_url
    if _scheme(url) == "duckdb":
        return files.get(url)
    raise _unsupported("ANALYTICS_METRICS_URL", url, "duckdb:///path")


def build_event_store(settings: Settings, files: _DuckDBFiles) -> EventStore:
    url = settings.resolved_events_url
    if _scheme(url) == "duckdb":
        return files.get(url)
    raise _unsupported("ANALYTICS_EVENTS_URL", url, "duckdb:///path")


def build_config_store(settings: Settings) -> ConfigStore:
    url = settings.resolved_config_url
    if _scheme(url) == "sqlite":
        return SQLiteConfigStore(_path_of(url))
    raise _unsupported("ANALYTICS_CONFIG_URL", url, "sqlite:///path")


def build_cache(settings: Settings) -> Cache:
    url = settings.cache_url
    if _scheme(url) == "memory":
        return MemoryCache()
    raise _unsupported("ANALYTICS_CACHE_URL", url, "memory://")


def build_broker(settings: Settings) -> Broker:
    url = settings.broker_url
    scheme = _scheme(url)
    if scheme == "memory":
        return MemoryBroker()
    if scheme in {"redis", "rediss"}:
        return RedisBroker(_redis_client(url, settings))
    raise _unsupported("ANALYTICS_BROKER_URL", url, "memory://, redis://")


def build_backends(settings: Settings) -> Backends:
    files = _DuckDBFiles(settings)
    return Backends(
        metrics=build_metric_store(settings, files),
        events=build_event_store(settings, files),
        config=build_config_store(settings),
        broker=build_broker(settings),
        cache=build_cache(settings),
    )
