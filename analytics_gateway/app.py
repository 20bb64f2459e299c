"""`create_app(settings)`: builds the whole gateway; resources live in the lifespan.

The lifespan starts every service on one `AsyncExitStack` (see
`services.start_services`) and hands the started `Services` to every request
as Starlette lifespan state: handlers read `request.state.services`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import TypedDict

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware

from analytics_gateway.config import Settings
from analytics_gateway.heap import freeze_startup_heap
from analytics_gateway.http import (
    alerts,
    audit,
    behaviour,
    bi,
    dashboards,
    graphql,
    kpis,
    metrics,
    ml,
    operations,
    pages,
    reports,
)
from analytics_gateway.http.compression import Compression
from analytics_gateway.http.middleware import (
    BodySizeLimit,
    CorrelationIdMiddleware,
    SecurityHeaders,
    ServerSpans,
    UnexpectedErrors,
)
from analytics_gateway.ingest import now_ms
from analytics_gateway.observability import GatewayMetrics, LiveScoringCollector
from analytics_gateway.schema import build_schema
from analytics_gateway.services import Services, background, start_services

log = logging.getLogger(__name__)


class State(TypedDict):
    """The lifespan state every request sees as `request.state`."""

    services: Services


class Gateway:
    """What `create_app` builds once; `services` while the lifespan is open (for tests
    and operators: handlers get them from the lifespan state)."""

    def __init__(
        self, settings: Settings, registry: CollectorRegistry, clock: Callable[[], int] = now_ms
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = GatewayMetrics(registry)
        self._services: Services | None = None
        registry.register(LiveScoringCollector(self._live_scoring_counts))

    def _live_scoring_counts(self) -> tuple[int, int]:
        if self._services is None:
            return 0, 0
        live = self._services.ml.live
        return live.scored_points, live.dropped_batches

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the gateway is not started (lifespan not entered)")
        return self._services

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[State]:
        async with contextlib.AsyncExitStack() as stack:
            services = await start_services(stack, self.settings, self.metrics, self.clock)
            self._services = services
            stack.callback(self._forget)
            log.info("start-up heap frozen: %d objects", freeze_startup_heap())
            background(stack, _freeze_when_warm(services), "heap-freeze")
            yield {"services": services}

    def _forget(self) -> None:
        self._services = None


async def _freeze_when_warm(services: Services) -> None:
    """The ML warm-up imports large libraries after start-up: freeze their objects too.

    Left in the collected heap, they made every full collection walk them: line
    protocol ingest cost 3.4x the CPU (`python -m bench --only ingest`).
    """
    if services.ml.warmed_up is not None:
        with contextlib.suppress(Exception):
            await asyncio.shield(services.ml.warmed_up)
    log.info("heap frozen after the ML warm-up: %d objects", freeze_startup_heap())


def create_app(
    settings: Settings,
    *,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], int] = now_ms,
) -> Starlette:
    """`clock` (epoch ms) is every service's "now"; tests inject their own."""
    gateway = Gateway(settings, registry or CollectorRegistry(), clock)
    limits = settings.limits
    app = Starlette(
        routes=[
            *operations.routes(),
            *metrics.routes(),
            *graphql.routes(settings, build_schema(settings, gateway.metrics)),
            *dashboards.routes(),
            *ml.routes(),
            *behaviour.routes(),
            *bi.routes(),
            *kpis.routes(),
            *alerts.routes(),
            *audit.routes(),
            *pages.routes(),
            *reports.routes(),
        ],
        lifespan=gateway.lifespan,
        middleware=[
            Middleware(ServerSpans),
            Middleware(CorrelationIdMiddleware, metrics=gateway.metrics),
            Middleware(SecurityHeaders),
            Middleware(UnexpectedErrors),
            Middleware(BodySizeLimit, max_bytes=limits.max_body_bytes),
            # level 5: within 3% of level 9's size on series JSON, at half the CPU
            Middleware(Compression, minimum_size=1024, compresslevel=5),
        ],
    )
    app.state.gateway = gateway
    return app


__all__ = ["Gateway", "State", "create_app"]
