"""Past-range query results come from the cache until a write to their metric."""

from __future__ import annotations

from collections.abc import AsyncIterator
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
