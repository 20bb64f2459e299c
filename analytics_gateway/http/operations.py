"""What operators and load balancers call: liveness, readiness and the gateway's metrics.

The public sees `/healthz` and whether the gateway is ready, nothing more.
What a store is down, and `/metrics`, are for operators: the requests that
come in on the operator listener (`ANALYTICS_ADMIN_PORT`), or, when there is
none (development), from a loopback client. Anyone else gets 404 for
`/metrics` and a bare status from `/readyz`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from prometheus_client.exposition import choose_encoder
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from analytics_gateway.backends.breaker import CircuitBreaker
from analytics_gateway.domain import EventQuery
from analytics_gateway.errors import BackendUnavailable
from analytics_gateway.http.handlers import services_of
from analytics_gateway.ingest_buffer import Backlog, IngestBuffer

_READYZ_EVENTS = EventQuery("__readyz__", None, None, None, None, limit=1)
# a probe slower than this counts as down: /readyz answers within it even when a
# store is frozen, and a store that slow is not fit to serve anyway
READY_PROBE_SECONDS = 1.0
_LOOPBACK = {"127.0.0.1", "::1"}


def from_operator(connection: HTTPConnection) -> bool:
    """Whether the request came in on the operator listener (or, without one, from loopback)."""
    settings = services_of(connection).settings
    if settings.admin_port:
        server = connection.scope.get("server")
        return server is not None and server[1] == settings.admin_port
    client = connection.client
    return client is not None and client.host in _LOOPBACK


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
    buffer = backends.buffer
    if buffer is not None:
        probes["buffer"] = buffer.ping()
    if backends.prometheus is not None:
        probes["prometheus"] = backends.prometheus.ping()
    seconds = min(READY_PROBE_SECONDS, services.settings.backend_timeout_seconds)
    results = await asyncio.gather(*(_probe(probe, seconds) for probe in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    # not ready until the ML stack's cold start is paid (a few seconds after start-up)
    checks["ml"] = services.ml.warm
    details: dict[str, object] = {}
    if buffer is not None:
        # acknowledged items wait there: a drainer that stopped turning loses nothing
        # yet, but nothing reaches the store either
        checks["buffer_drainer"] = buffer.drainer_alive
        backlog = await _backlog(buffer, seconds)
        if backlog is not None:
            details["buffer_backlog"] = {
                "entries": backlog.entries,
                "oldestSeconds": round(backlog.oldest_seconds, 3),
            }
    breakers = {
        name: "open" if breaker.is_open else "closed"
        for name, store in (("metrics", backends.metrics), ("events", backends.events))
        if isinstance(breaker := getattr(store, "breaker", None), CircuitBreaker)
    }
    if breakers:
        details["breakers"] = breakers
    ready = all(checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "degraded"}
    if from_operator(request):
        body["checks"] = checks
        body.update(details)
    return JSONResponse(body, status_code=200 if ready else 503)


async def _backlog(buffer: IngestBuffer, seconds: float) -> Backlog | None:
    try:
        return await asyncio.wait_for(buffer.backlog(), seconds)
    except (TimeoutError, BackendUnavailable):
        return None


async def prometheus(request: Request) -> Response:
    if not from_operator(request):
        return Response("Not Found", status_code=404, media_type="text/plain")
    registry = services_of(request).metrics.registry
    # OpenMetrics when the scraper asks for it (Prometheus does): the format that
    # carries exemplars, the trace ids on latency buckets
    encode, media_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), media_type=media_type)


async def profile_file(request: Request) -> Response:
    """A profile `profile` recorded, as a speedscope file: for the operator only."""
    if not from_operator(request):
        return Response("Not Found", status_code=404, media_type="text/plain")
    found = services_of(request).profiles.get(request.path_params["id"])
    if found is None:
        return Response("no such profile (the last 5 are kept)", 404, media_type="text/plain")
    return Response(
        found.speedscope,
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="profile-{found.id}.json"'},
    )


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
        Route("/debug/profiles/{id}", profile_file),
    ]
