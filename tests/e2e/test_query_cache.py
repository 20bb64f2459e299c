"""Past-range query results come from the cache until a write to their metric."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from analytics_gateway.app import Gateway, create_app
from tests.conftest import (
    GraphQLClient,
    asgi_transport,
    backend_calls,
    make_settings,
    new_key,
    production_backends,
    started,
)

QUERY = """query($name: String!) {
  metrics(query: {name: $name, from: "2024-01-01T00:00:00Z", to: "2024-01-02T00:00:00Z"}) {
    data
  }
}"""
T = "2024-01-01T12:00:00Z"
HOUR = timedelta(hours=1)


@pytest.fixture(params=["memory", "redis"])
async def setup(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Gateway, GraphQLClient, GraphQLClient]]:
    if production_backends(request):
        pytest.skip("counts calls of the embedded store")
    cache_url = "memory://" if request.param == "memory" else request.getfixturevalue("redis").url
    settings = make_settings(tmp_path / "data", cache_url=cache_url)
    acme, globex = await new_key(settings, "acme"), await new_key(settings, "globex")
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield app.state.gateway, GraphQLClient(http, acme), GraphQLClient(http, globex)


async def _values(gql: GraphQLClient, name: str = "cpu") -> list[list[float]]:
    body = await gql.execute(QUERY, {"name": name})
    assert "errors" not in body, body
    return [series["data"]["v"] for series in body["data"]["metrics"]]


async def _write(gql: GraphQLClient, value: float, name: str = "cpu") -> None:
    body = await gql.execute(
        "mutation($p: [MetricPointInput!]!) { ingestMetrics(points: $p) { accepted } }",
        {"p": [{"name": name, "value": value, "timestamp": T}]},
    )
    assert body["data"]["ingestMetrics"]["accepted"] == 1, body


async def test_repeat_is_served_from_the_cache_and_a_write_invalidates_it(
    setup: tuple[Gateway, GraphQLClient, GraphQLClient],
) -> None:
    gateway, acme, _ = setup
    registry = gateway.metrics.registry
    await _write(acme, 1.0)
    assert await _values(acme) == [[1.0]]
    calls = backend_calls(registry, "duckdb", "query_points")
    assert await _values(acme) == [[1.0]]
    assert backend_calls(registry, "duckdb", "query_points") == calls

    await _write(acme, 2.0)  # into the cached range
    calls = backend_calls(registry, "duckdb", "query_points")
    assert await _values(acme) == [[1.0, 2.0]]
    assert backend_calls(registry, "duckdb", "query_points") == calls + 1

    await _write(acme, 5.0, name="other")  # another metric leaves the entry current
    calls = backend_calls(registry, "duckdb", "query_points")
    assert await _values(acme) == [[1.0, 2.0]]
    assert backend_calls(registry, "duckdb", "query_points") == calls


async def test_a_range_reaching_now_is_never_cached(
    setup: tuple[Gateway, GraphQLClient, GraphQLClient],
) -> None:
    gateway, acme, _ = setup
    registry = gateway.metrics.registry
    query = '{ metrics(query: {name: "cpu", last: "1h"}) { name } }'
    await acme.execute(query)
    calls = backend_calls(registry, "duckdb", "query_points")
    await acme.execute(query)
    assert backend_calls(registry, "duckdb", "query_points") == calls + 1


async def test_an_answer_for_a_range_reaching_now_is_not_even_stored(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Its key names the instant it was asked, which no later request asks for; a
    clock that moves on between the resolver and the cache must not change that."""
    if production_backends(request):
        pytest.skip("reads the embedded gateway's own cache")
    ticks = itertools.count()

    def moving_clock() -> int:  # 20 ms further each time anything asks
        return int(time.time() * 1000) + 20 * next(ticks)

    settings = make_settings(tmp_path / "data")
    key = await new_key(settings, "acme")
    app = create_app(settings, registry=CollectorRegistry(), clock=moving_clock)
    async with (
        started(app),
        httpx.AsyncClient(transport=asgi_transport(app), base_url="http://g") as http,
    ):
        acme = GraphQLClient(http, key)
        await _write(acme, 1.0)
        cache = app.state.gateway.services.backends.cache
        stored: list[str] = []
        set_many = cache.set_many

        async def recording(tenant: str, items: list[tuple[str, bytes]], ttl: float) -> None:
            stored.extend(k for k, _ in items)
            await set_many(tenant, items, ttl)

        cache.set_many = recording
        await acme.execute('{ metrics(query: {name: "cpu", last: "1h"}) { name } }')
        assert stored == []
        now = datetime.now(UTC)
        await acme.execute(
            "query($f: DateTime!, $t: DateTime!) "
            '{ metrics(query: {name: "cpu", from: $f, to: $t}) { name } }',
            {"f": (now - timedelta(hours=2)).isoformat(), "t": (now - HOUR).isoformat()},
        )
        assert len(stored) == 1  # a range that ended an hour ago is kept


async def test_cached_results_stay_with_their_tenant(
    setup: tuple[Gateway, GraphQLClient, GraphQLClient],
) -> None:
    _, acme, globex = setup
    await _write(acme, 1.0)
    assert await _values(acme) == [[1.0]]
    assert await _values(globex) == []
    await _write(globex, 7.0)
    assert await _values(globex) == [[7.0]]
    assert await _values(acme) == [[1.0]]
