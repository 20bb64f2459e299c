"""Build backends from store URLs in `Settings` (decision 6).

One `build_*` function per backend kind dispatches on the URL's scheme, so a
new store is one branch in one function. The stores that count their calls
(`backends.calls`) count them on the registry `build_backends` is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from analytics_gateway.backends.base import (
    Broker,
    Buckets,
    Cache,
    ConfigStore,
    EventStore,
    MetricStore,
    PromQLSource,
)
from analytics_gateway.backends.buckets import MemoryBuckets, RedisBuckets
from analytics_gateway.backends.calls import BackendCalls
from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.backends.elasticsearch_events import ElasticsearchEventStore
from analytics_gateway.backends.influxdb_store import InfluxDBStore
from analytics_gateway.backends.memory_broker import MemoryBroker
from analytics_gateway.backends.memory_cache import MemoryCache
from analytics_gateway.backends.prometheus_source import PrometheusSource
from analytics_gateway.backends.redis_broker import RedisBroker
from analytics_gateway.backends.redis_cache import RedisCache
from analytics_gateway.backends.redis_config import RedisConfigStore
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.config import Settings
from analytics_gateway.ingest_buffer import IngestBuffer


@dataclass
class Backends:
    metrics: MetricStore
    events: EventStore
    config: ConfigStore
    broker: Broker
    cache: Cache = field(default_factory=MemoryCache)
    buffer: IngestBuffer | None = None
    prometheus: PromQLSource | None = None
    buckets: Buckets = field(default_factory=MemoryBuckets)

    async def close(self) -> None:
        closed: set[int] = set()
        backends: list[Any] = [
            self.broker,
            self.metrics,
            self.events,
            self.config,
            self.cache,
            self.buckets,
        ]
        if self.buffer is not None:
            backends.append(self.buffer)
        if self.prometheus is not None:
            backends.append(self.prometheus)
        for backend in backends:
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
    """A client that fails within the timeout, retrying once only on a dropped connection.

    The retry replaces a pooled connection that a Redis restart closed; a
    timeout is not retried, so a stalled server costs one timeout, not several.
    """
    return aioredis.Redis.from_url(
        url,
        socket_timeout=settings.backend_timeout_seconds,
        socket_connect_timeout=settings.backend_timeout_seconds,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


class _DuckDBFiles:
    """Metrics and events on the same DuckDB file share one store (one writer)."""

    def __init__(self, settings: Settings, calls: BackendCalls) -> None:
        self._settings = settings
        self._calls = calls
        self._stores: dict[str, DuckDBStore] = {}

    def get(self, url: str) -> DuckDBStore:
        path = _path_of(url)
        if path not in self._stores:
            self._stores[path] = DuckDBStore(
                path,
                timeout_seconds=self._settings.backend_timeout_seconds,
                max_points=self._settings.limits.max_points_per_request,
                calls=self._calls,
            )
        return self._stores[path]


def build_metric_store(settings: Settings, files: _DuckDBFiles, calls: BackendCalls) -> MetricStore:
    url = settings.resolved_metrics_url
    if _scheme(url) == "duckdb":
        return files.get(url)
    if _scheme(url) in {"influxdb", "influxdb+https"}:
        return InfluxDBStore.from_url(
            url,
            timeout_seconds=settings.backend_timeout_seconds,
            max_points=settings.limits.max_points_per_request,
            calls=calls,
        )
    raise _unsupported("ANALYTICS_METRICS_URL", url, "duckdb:///path, influxdb://host/db")


def build_event_store(settings: Settings, files: _DuckDBFiles, calls: BackendCalls) -> EventStore:
    url = settings.resolved_events_url
    if _scheme(url) == "duckdb":
        return files.get(url)
    if _scheme(url) in {"elasticsearch", "elasticsearch+https"}:
        return ElasticsearchEventStore.from_url(
            url,
            timeout_seconds=settings.backend_timeout_seconds,
            retention_days=settings.events_retention_days,
            calls=calls,
        )
    raise _unsupported(
        "ANALYTICS_EVENTS_URL", url, "duckdb:///path, elasticsearch://host:port[/prefix]"
    )


def build_config_store(settings: Settings) -> ConfigStore:
    url = settings.resolved_config_url
    if _scheme(url) == "sqlite":
        return SQLiteConfigStore(_path_of(url))
    if _scheme(url) in {"redis", "rediss"}:
        return RedisConfigStore(_redis_client(url, settings))
    raise _unsupported("ANALYTICS_CONFIG_URL", url, "sqlite:///path, redis://")


def build_cache(settings: Settings) -> Cache:
    url = settings.cache_url
    if _scheme(url) == "memory":
        return MemoryCache()
    if _scheme(url) in {"redis", "rediss"}:
        return RedisCache(_redis_client(url, settings))
    raise _unsupported("ANALYTICS_CACHE_URL", url, "memory://, redis://")


def build_buckets(settings: Settings) -> Buckets:
    """Rate-limit buckets on the cache's Redis (shared by replicas), else in process."""
    url = settings.cache_url
    if _scheme(url) in {"redis", "rediss"}:
        return RedisBuckets(_redis_client(url, settings))
    return MemoryBuckets()


def build_broker(settings: Settings) -> Broker:
    url = settings.broker_url
    scheme = _scheme(url)
    history: dict[str, Any] = {
        "history_size": settings.live_history_size,
        "history_bytes": settings.live_history_bytes,
        "history_channels": settings.live_history_channels,
        "replay": settings.live_replay,
    }
    if scheme == "memory":
        return MemoryBroker(**history)
    if scheme in {"redis", "rediss"}:
        return RedisBroker(_redis_client(url, settings), **history)
    raise _unsupported("ANALYTICS_BROKER_URL", url, "memory://, redis://")


def build_ingest_buffer(
    settings: Settings, metrics: MetricStore, events: EventStore
) -> IngestBuffer | None:
    url = settings.ingest_buffer_url
    if not url:
        return None
    if _scheme(url) in {"redis", "rediss"}:
        timeout = settings.backend_timeout_seconds
        return IngestBuffer(
            _redis_client(url, settings),
            metrics,
            events,
            block_ms=max(10, min(1000, int(timeout * 500))),
        )
    raise _unsupported("ANALYTICS_INGEST_BUFFER_URL", url, "redis://")


def build_prometheus(settings: Settings, calls: BackendCalls) -> PromQLSource | None:
    """The optional read-only Prometheus source (`http://host:port[/prefix]`)."""
    url = settings.prometheus_url
    if not url:
        return None
    if _scheme(url) in {"http", "https"}:
        client = httpx.AsyncClient(
            base_url=url.rstrip("/"), timeout=settings.backend_timeout_seconds
        )
        return PrometheusSource(
            client,
            tenant_label=settings.prometheus_tenant_label,
            timeout_seconds=settings.backend_timeout_seconds,
            max_points=settings.limits.max_points_per_request,
            calls=calls,
        )
    raise _unsupported("ANALYTICS_PROMETHEUS_URL", url, "http://host:port, https://")


def build_backends(settings: Settings, registry: CollectorRegistry | None = None) -> Backends:
    """Every backend `settings` names; their calls are counted on `registry` (or a private one)."""
    calls = BackendCalls(registry)
    files = _DuckDBFiles(settings, calls)
    metrics = build_metric_store(settings, files, calls)
    events = build_event_store(settings, files, calls)
    return Backends(
        metrics=metrics,
        events=events,
        buffer=build_ingest_buffer(settings, metrics, events),
        config=build_config_store(settings),
        broker=build_broker(settings),
        cache=build_cache(settings),
        prometheus=build_prometheus(settings, calls),
        buckets=build_buckets(settings),
    )
