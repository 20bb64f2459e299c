"""Server side of the query-latency benchmark, run in its own process.

One event loop serves two uvicorn servers on two ports:

- the gateway: `create_app(settings)` with logging configured as `serve` does it;
- the bare baseline: one Starlette route that calls `store.query_many([...])` on
  the gateway's own DuckDB store object and returns the same JSON with orjson.

The store is seeded with `--series` series (labels host=h0..) of `--points`
points each, one per second ending now, before either server starts.

    python -m bench.query_server --data-dir DIR --gateway-port P1 --bare-port P2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from analytics_gateway.app import Gateway, create_app
from analytics_gateway.backends.base import MetricStore
from analytics_gateway.config import Settings
from analytics_gateway.domain import MetricPoint, MetricQuery, PointBatch
from analytics_gateway.observability import configure_logging
from bench.common import TENANT, UNLIMITED

METRIC = "bench_cpu"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `main` (two servers share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def seed(store: MetricStore, tenant: str, series: int, points: int) -> None:
    rng = random.Random(42)
    end = int(time.time()) * 1000
    batch = [
        MetricPoint(
            tenant=tenant,
            name=METRIC,
            labels={"host": f"h{s}"},
            timestamp_ms=end - (points - i) * 1000,
            value=round(rng.uniform(0, 100), 3),
        )
        for s in range(series)
        for i in range(points)
    ]
    await store.write_batch(PointBatch.of(tenant, batch))


def bare_app(store: MetricStore, tenant: str) -> Starlette:
    """The baseline: parse two parameters, one store call, the same JSON body."""

    async def metrics(request: Request) -> Response:
        name = request.query_params["name"]
        last_ms = int(request.query_params["last_ms"])
        now = int(time.time() * 1000)
        query = MetricQuery(tenant=tenant, name=name, labels=(), start_ms=now - last_ms,
                            end_ms=now + 1)  # fmt: skip
        [series] = await store.query_many([query])
        body = {
            "data": {
                "metrics": [
                    {"labels": s.labels, "data": {"t": s.timestamps, "v": s.values}} for s in series
                ]
            }
        }
        return Response(orjson.dumps(body), media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(routes=[Route("/metrics", metrics), Route("/healthz", healthz)])


def _config(app: ASGIApp, port: int) -> uvicorn.Config:
    # The same uvicorn options as `analytics-gateway serve`, for both apps.
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
    )


def _with_state(app: ASGIApp, state: dict[str, Any]) -> ASGIApp:
    """The app as a server with lifespan state calls it (its lifespan ran above)."""

    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            scope = {**scope, "state": dict(state)}
        await app(scope, receive, send)

    return call


async def serve(args: argparse.Namespace) -> None:
    settings = Settings.from_env({}, data_dir=Path(args.data_dir), quotas=UNLIMITED)
    configure_logging(settings.log_level, settings.json_logs)
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        gateway: Gateway = app.state.gateway
        store = gateway.services.backends.metrics
        await seed(store, args.tenant, args.series, args.points)
        servers = [
            _Server(_config(_with_state(app, dict(state or {})), args.gateway_port)),
            _Server(_config(bare_app(store, args.tenant), args.bare_port)),
        ]
        loop = asyncio.get_running_loop()

        def stop() -> None:
            for server in servers:
                server.should_exit = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        await asyncio.gather(*(server.serve() for server in servers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--gateway-port", type=int, required=True)
    parser.add_argument("--bare-port", type=int, required=True)
    parser.add_argument("--tenant", default=TENANT)
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--points", type=int, default=1000)
    args = parser.parse_args()
    # The event loop uvicorn would pick (uvloop when installed), as for the gateway CLI.
    loop_factory = uvicorn.Config(Starlette()).get_loop_factory()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(args))


if __name__ == "__main__":
    main()
