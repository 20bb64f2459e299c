"""`create_app(settings)`: builds the whole gateway; resources live in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from types import FrameType

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from analytics_gateway.alerting.metrics import AlertMetrics
from analytics_gateway.alerting.routes import AlertRoutes
from analytics_gateway.alerting.service import AlertService
from analytics_gateway.backends.factory import build_backends
from analytics_gateway.config import Settings
from analytics_gateway.dashboards.routes import DashboardRoutes
from analytics_gateway.domain import EventQuery
from analytics_gateway.graphql_view import GatewayGraphQL
from analytics_gateway.heap import freeze_startup_heap
from analytics_gateway.ingest import IngestService, now_ms
from analytics_gateway.limits import BodySizeLimit
from analytics_gateway.ml.routes import MlRoutes
from analytics_gateway.ml.service import MlService
from analytics_gateway.observability import (
    CorrelationIdMiddleware,
    GatewayMetrics,
    LiveScoringCollector,
)
from analytics_gateway.rest import RestRoutes
from analytics_gateway.schema import build_schema
from analytics_gateway.services import Services
from analytics_gateway.subscriptions.cohorts import CohortRegistry
from analytics_gateway.subscriptions.hub import Hub
from analytics_gateway.subscriptions.sessions import SessionRegistry
from analytics_gateway.web import pages as web_pages

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5.0


class Gateway:
    """Holds what the lifespan opens, so handlers reach it without globals."""

    def __init__(
        self, settings: Settings, registry: CollectorRegistry, clock: Callable[[], int] = now_ms
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = GatewayMetrics(registry)
        self._services: Services | None = None
        self._background: list[asyncio.Task[None]] = []
        registry.register(LiveScoringCollector(self._live_scoring_counts))

    def _live_scoring_counts(self) -> tuple[int, int]:
        ml = self._services.ml if self._services is not None else None
        return (ml.live.scored_points, ml.live.dropped_batches) if ml is not None else (0, 0)

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the gateway is not started (lifespan not entered)")
        return self._services

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        backends = build_backends(self.settings, self.metrics.registry)
        metrics = self.metrics
        hub = Hub(
            backends.broker,
            queue_size=self.settings.subscriber_queue_size,
            on_drop=metrics.dropped_messages.inc,
        )
        ingest = IngestService(
            backends.metrics,
            backends.events,
            backends.broker,
            self.settings.limits,
            metrics,
            buffer=backends.buffer,
            cache=backends.cache,
            clock=self.clock,
        )
        cohorts = CohortRegistry(
            self.settings.subscriber_queue_size,
            on_drop=metrics.dropped_messages.inc,
            on_active_change=metrics.active_subscriptions.inc,
        )
        sessions = SessionRegistry(backends.config)
        alerts = AlertService(
            self.settings, backends.config, backends.metrics, backends.broker, hub,
            AlertMetrics(metrics.registry), self.clock,
        )  # fmt: skip
        ml = MlService(
            self.settings, backends.config, backends.metrics, backends.broker, self.clock
        )
        ingest.listeners.append(ml.observe)
        ml.live.score_sink = ingest.store_batch  # scores become points ML alerts read
        self._services = Services(
            self.settings, backends, ingest, hub, metrics, cohorts, sessions, alerts=alerts, ml=ml
        )
        await hub.start()
        await sessions.start()
        await alerts.start()
        await ml.start()
        if backends.buffer is not None:
            buffer = backends.buffer
            buffer.on_drained = metrics.buffer_drained.inc
            buffer.cache = backends.cache
            self._background.append(
                asyncio.create_task(buffer.drain_forever(), name="ingest-buffer")
            )
        if self.settings.demo:
            from analytics_gateway import demo

            rng = random.Random(7)
            await demo.seed(self._services, rng)  # before serving: the first query sees data
            self._background.append(
                asyncio.create_task(demo.publish_live(self._services, rng), name="demo")
            )
        log.info("start-up heap frozen: %d objects", freeze_startup_heap())
        try:
            yield
        finally:
            for task in self._background:
                task.cancel()
            if self._background:
                # a task stuck in a store call must not hold the shutdown forever
                _, stuck = await asyncio.wait(self._background, timeout=SHUTDOWN_GRACE_SECONDS)
                for task in stuck:
                    log.warning(
                        "background task %s did not stop in time: %s",
                        task.get_name(),
                        " <- ".join(_frame(f) for f in task.get_stack()),
                    )
            self._background.clear()
            await ml.stop()
            await alerts.stop()
            await sessions.stop()
            await hub.stop()
            await backends.close()
            self._services = None

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        """Every backend probed at once, each within its own deadline."""
        backends = self.services.backends
        probes: dict[str, Awaitable[object]] = {
            "broker": backends.broker.ping(),
            "metrics": _ok(backends.metrics.metric_names("__readyz__", None)),
            "events": _ok(backends.events.query_events(_READYZ_EVENTS)),
            "config": _ok(backends.config.list_keys("__readyz__")),
            "cache": backends.cache.ping(),
        }
        if backends.buffer is not None:
            probes["buffer"] = backends.buffer.ping()
        if backends.prometheus is not None:
            probes["prometheus"] = backends.prometheus.ping()
        results = await asyncio.gather(
            *(_probe(probe, self.settings.backend_timeout_seconds) for probe in probes.values())
        )
        checks = dict(zip(probes, results, strict=True))
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "degraded", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def prometheus(self, request: Request) -> Response:
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)


_READYZ_EVENTS = EventQuery("__readyz__", None, None, None, None, limit=1)


async def _ok(awaitable: Awaitable[object]) -> bool:
    await awaitable
    return True


def _frame(frame: FrameType) -> str:
    return f"{frame.f_code.co_name} ({Path(frame.f_code.co_filename).name}:{frame.f_lineno})"


async def _probe(probe: Awaitable[object], seconds: float) -> bool:
    try:
        return bool(await asyncio.wait_for(probe, seconds))
    except Exception:
        return False


def create_app(
    settings: Settings,
    *,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], int] = now_ms,
) -> Starlette:
    """`clock` (epoch ms) drives ingest and alerting time; tests inject their own."""
    gateway = Gateway(settings, registry or CollectorRegistry(), clock)
    limits = settings.limits

    graphql = GatewayGraphQL(
        services=lambda: gateway.services,
        schema=build_schema(settings, gateway.metrics),
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=True,
        max_subscriptions_per_connection=limits.max_subscriptions_per_connection,
        connection_init_wait_timeout=timedelta(seconds=10),
    )
    rest = RestRoutes(lambda: gateway.services).handlers()
    boards = DashboardRoutes(lambda: gateway.services).handlers()
    ml_rest = MlRoutes(lambda: gateway.services).handlers()
    alerts = AlertRoutes(lambda: gateway.services).handlers()
    routes = [
        Route("/healthz", gateway.healthz),
        Route("/readyz", gateway.readyz),
        Route("/metrics", gateway.prometheus),
        Route("/analytics/metrics", rest["post_metrics"], methods=["POST"]),
        Route("/analytics/metrics/aggregated", rest["get_aggregated"], methods=["GET"]),
        Route("/analytics/metrics/{tenant_id}", rest["get_metrics"], methods=["GET"]),
        Route("/write", rest["write_v1"], methods=["POST"]),
        Route("/api/v2/write", rest["write_v2"], methods=["POST"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/analytics/dashboards", boards["list"], methods=["GET"]),
        Route("/analytics/dashboards", boards["create"], methods=["POST"]),
        Route("/analytics/dashboards/{dashboard_id}", boards["get"], methods=["GET"]),
        Route("/analytics/ml/train", ml_rest["train"], methods=["POST"]),
        Route("/analytics/ml/predict", ml_rest["predict"], methods=["POST"]),
        Route("/analytics/ml/models", ml_rest["models"], methods=["GET"]),
        Route("/analytics/alerts", alerts["list"], methods=["GET"]),
        Route("/analytics/alerts", alerts["create"], methods=["POST"]),
        Route("/analytics/alerts/{alert_id}", alerts["update"], methods=["PUT"]),
        Route("/analytics/alerts/{alert_id}", alerts["delete"], methods=["DELETE"]),
        *web_pages.routes(settings),
    ]
    app = Starlette(
        routes=routes,
        lifespan=gateway.lifespan,
        middleware=[
            Middleware(CorrelationIdMiddleware, metrics=gateway.metrics),
            Middleware(BodySizeLimit, max_bytes=limits.max_body_bytes),
            # level 5: within 3% of level 9's size on series JSON, at half the CPU
            Middleware(GZipMiddleware, minimum_size=1024, compresslevel=5),
        ],
    )
    app.state.gateway = gateway
    return app


__all__ = ["Gateway", "create_app"]
