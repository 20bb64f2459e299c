"""Build backends from store URLs in `Settings` (decision 6)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import redis.asyncio as aioredis

from analytics_gateway.backends.base import Broker, ConfigStore, EventStore, MetricStore
from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.backends.memory_broker import MemoryBroker
from analytics_gateway.backends.redis_broker import RedisBroker
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.config import Settings


@dataclass
class Backends:
    metrics: MetricStore
    events: EventStore
    config: ConfigStore
    broker: Broker

    async def close(self) -> None:
        closed: set[int] = set()
        for backend in (self.broker, self.metrics, self.events, self.config):
            if id(backend) not in closed:
                closed.add(id(backend))
                await backend.close()


def _path_of(url: str) -> str:
    parsed = urlparse(url)
    return (parsed.netloc + parsed.path) if parsed.netloc else parsed.path


def build_config_store(settings: Settings) -> ConfigStore:
    url = settings.resolved_config_url
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        return SQLiteConfigStore(_path_of(url))
    raise ValueError(f"ANALYTICS_CONFIG_URL: unsupported scheme {scheme!r} (use sqlite:///path)")


def build_broker(settings: Settings) -> Broker:
    url = settings.broker_url
    scheme = urlparse(url).scheme
    if scheme == "memory":
        return MemoryBroker()
    if scheme in {"redis", "rediss"}:
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=settings.backend_timeout_seconds,
            socket_connect_timeout=settings.backend_timeout_seconds,
        )
        return RedisBroker(client)
    raise ValueError(f"ANALYTICS_BROKER_URL: unsupported scheme {scheme!r} (memory://, redis://)")


def build_backends(settings: Settings) -> Backends:
    metrics_url = settings.resolved_metrics_url
    events_url = settings.resolved_events_url
    stores: dict[str, DuckDBStore] = {}

    def duck(url: str, variable: str) -> DuckDBStore:
        if urlparse(url).scheme != "duckdb":
            raise ValueError(f"{variable}: unsupported scheme in {url!r} (use duckdb:///path)")
        path = _path_of(url)
        if path not in stores:
            stores[path] = DuckDBStore(
                path,
                timeout_seconds=settings.backend_timeout_seconds,
                max_points=settings.limits.max_points_per_request,
            )
        return stores[path]

    metrics = duck(metrics_url, "ANALYTICS_METRICS_URL")
    events = duck(events_url, "ANALYTICS_EVENTS_URL")
    return Backends(
        metrics=metrics,
        events=events,
        config=build_config_store(settings),
        broker=build_broker(settings),
    )
