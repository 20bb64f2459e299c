"""What operators and load balancers call: liveness, readiness and the gateway's metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from analytics_gateway.domain import EventQuery
from analytics_gateway.http.handlers import services_of

_READYZ_EVENTS = EventQuery("__readyz__", None, None, None, None, limit=1)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Every backend probed at once, each within its own deadline."""
    services = services_of(request)
    backends = services.backends
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
    seconds = services.settings.backend_timeout_seconds
    results = await asyncio.gather(*(_probe(probe, seconds) for probe in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    # not ready until the ML stack's cold start is paid (a few seconds after start-up)
    checks["ml"] = services.ml.warm
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "degraded", "checks": checks},
        status_code=200 if ready else 503,
    )


async def prometheus(request: Request) -> Response:
    registry = services_of(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def _ok(awaitable: Awaitable[object]) -> bool:
    await awaitable
    return True


async def _probe(probe: Awaitable[object], seconds: float) -> bool:
    try:
        return bool(await asyncio.wait_for(probe, seconds))
    except Exception:
        return False


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", prometheus),
    ]
