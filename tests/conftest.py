"""Shared fixtures: an app per test on its own data dir, keys per tenant, real servers."""

from __future__ import annotations

import asyncio
import contextlib
import pkgutil
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

import tests.fixtures
from analytics_gateway.app import create_app
from analytics_gateway.auth import create_key, parse_scopes
from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.backends.calls import (
    METRIC_NAME,
    OPERATIONS,
    Backend,
    BackendCalls,
    Operation,
)
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings
from analytics_gateway.subscriptions.hub import Hub
from tests.graphql_ws import GraphQLWS
from tests.servers import RedisServer, free_port, redis_server

MakeKey = Callable[..., Awaitable[str]]

# Every module under tests/fixtures holds the fixtures of one real server.
pytest_plugins = [
    f"tests.fixtures.{module.name}" for module in pkgutil.iter_modules(tests.fixtures.__path__)
]


# Store URLs every gateway of the current test runs on; empty: the embedded default.
_store_urls: dict[str, str] = {}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    # self-monitoring off unless a test turns it on: its writes would add to the
    # counts (points, store calls, spans) tests read
    values = {"self_interval_seconds": 0.0, **_store_urls, **overrides}
    return Settings.from_env({}, data_dir=data_dir, json_logs=False, **values)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends",
        choices=("embedded", "production"),
        default="embedded",
        help="production: every gateway a test builds runs on InfluxDB, Elasticsearch "
        "(osmem-server) and Redis (config, cache, broker, ingest buffer), each a real server",
    )


def production_backends(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--backends") == "production")


@pytest.fixture(autouse=True)
def _store_urls_of_this_run(request: pytest.FixtureRequest) -> Iterator[None]:
    if not production_backends(request):
        yield
        return
    redis: RedisServer = request.getfixturevalue("redis")
    base = redis.url.rsplit("/", 1)[0]
    _store_urls.update(
        metrics_url=request.getfixturevalue("influxdb_url"),
        events_url=request.getfixturevalue("elasticsearch_url"),
        config_url=f"{base}/0",
        cache_url=f"{base}/1",
        broker_url=f"{base}/2",
        ingest_buffer_url=f"{base}/3",
    )
    try:
        yield
    finally:
        _store_urls.clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


async def new_key(
    settings: Settings, tenant: str = "acme", scopes: str = "ingest,read,write"
) -> str:
    """A key in the config store `settings` names (the store is closed again)."""
    store = build_config_store(settings)
    try:
        _, key = await create_key(store, tenant, parse_scopes(scopes))
    finally:
        await store.close()
    return key


@pytest.fixture
def make_key(settings: Settings) -> MakeKey:
    async def make(tenant: str, scopes: str = "ingest,read,write") -> str:
        return await new_key(settings, tenant, scopes)

    return make


def backend_calls(
    registry: CollectorRegistry, backend: Backend | None = None, operation: Operation | None = None
) -> int:
    """Store calls counted on `registry`: of `backend` (else of all), of `operation` (else all)."""
    values = [
        registry.get_sample_value(METRIC_NAME, {"backend": name, "operation": op})
        for name, operations in OPERATIONS.items()
        if backend in (None, name)
        for op in operations
        if operation in (None, op)
    ]
    counted = [value for value in values if value is not None]
    assert counted, f"no store counts {backend or 'its'} {operation or ''} calls on this registry"
    return int(sum(counted))


@pytest.fixture
def store_calls() -> BackendCalls:
    """A call counter on a registry of its own, for the stores a test builds."""
    return BackendCalls(CollectorRegistry())


_lifespan_states: weakref.WeakKeyDictionary[Starlette, dict[str, Any]] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def started(app: Starlette) -> AsyncIterator[Starlette]:
    """Run `app`'s lifespan; `with_state(app)` then takes requests as a server would."""
    async with app.router.lifespan_context(app) as state:
        _lifespan_states[app] = dict(state or {})
        try:
            yield app
        finally:
            del _lifespan_states[app]


def with_state(app: Starlette) -> ASGIApp:
    """The `started` app as servers call it: every scope holds a copy of the lifespan state."""
    state = _lifespan_states[app]

    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            scope = {**scope, "state": dict(state)}
        await app(scope, receive, send)

    return call


def asgi_transport(app: Starlette) -> httpx.ASGITransport:
    """An httpx transport to the `started` app, in process."""
    return httpx.ASGITransport(app=with_state(app))


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    async with started(create_app(settings, registry=CollectorRegistry())) as application:
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = asgi_transport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


class GraphQLClient:
    """Posts GraphQL over HTTP with a given key."""

    def __init__(self, http: httpx.AsyncClient, key: str | None) -> None:
        self.http = http
        self.key = key

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def gql(client: httpx.AsyncClient, make_key: MakeKey) -> GraphQLClient:
    return GraphQLClient(client, await make_key("acme", "ingest,read,write"))


@contextlib.asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[GraphQLClient]:
    """An app on custom settings, with a read/write key for tenant `acme`."""
    key = await new_key(settings)
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield GraphQLClient(http, key)


@contextlib.asynccontextmanager
async def serving(app: Starlette, *, lifespan: bool = True) -> AsyncIterator[str]:
    """Run `app` under uvicorn in this event loop; `lifespan=False` if already `started`."""
    port = free_port()
    config = uvicorn.Config(
        app if lifespan else with_state(app),
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="on" if lifespan else "off",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def base(app: Starlette) -> AsyncIterator[str]:
    """The (started) `app` under uvicorn on a free loopback port: its `host:port`."""
    async with serving(app, lifespan=False) as address:
        yield address


async def until_listening(hub: Hub, count: int, deadline_s: float = 60.0) -> None:
    """Until `count` queues listen on the process's hub: a subscribe is answered by
    nothing, and a point published before its queue is registered is not its."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    while hub.active < count:
        assert loop.time() < give_up, f"only {hub.active} of {count} subscriptions listening"
        await asyncio.sleep(0.02)


async def until_ready(http: httpx.AsyncClient, deadline_seconds: float = 120.0) -> httpx.Response:
    """Poll `/readyz` until it answers 200 (a new gateway warms its ML stack up first)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_seconds
    while True:
        response = await http.get("/readyz")
        if response.status_code == 200 or loop.time() > give_up:
            return response
        await asyncio.sleep(0.1)


async def open_ws(base: str, key: str) -> GraphQLWS:
    """A graphql-transport-ws connection to `base`, acknowledged for `key`."""
    ws = await GraphQLWS.open(f"ws://{base}/graphql", {"Authorization": f"Bearer {key}"})
    await ws.ack()
    return ws


async def post_json(base: str, key: str, path: str, body: object) -> Any:
    """POST `body` to `path` as `key`; it must answer 200. Returns the JSON answer."""
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"http://{base}{path}", json=body, headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 200, response.text
    return response.json()


async def post_points(base: str, key: str, points: list[dict[str, Any]]) -> None:
    """Ingest `points` through `POST /analytics/metrics`; every one must be stored."""
    await post_json(base, key, "/analytics/metrics", points)


@pytest.fixture(params=["sqlite", "redis"])
async def config_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ConfigStore]:
    """Each config store implementation in turn: SQLite, then a real redis-server."""
    if request.param == "sqlite":
        settings = make_settings(tmp_path / "data", config_url="")
    else:
        server: RedisServer = request.getfixturevalue("redis")
        settings = make_settings(tmp_path / "data", config_url=server.url)
    instance = build_config_store(settings)
    yield instance
    await instance.close()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as server:
        yield server
