"""Per-request limits, each with a setting and a coded error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from analytics_gateway.app import create_app
from analytics_gateway.ml.service import MlService
from tests.conftest import GraphQLClient, gateway, make_settings, new_key, serving, started
from tests.graphql_ws import GraphQLWS


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[tuple[str, GraphQLClient]]:
    settings = make_settings(
        tmp_path,
        limits={"max_points_per_request": 50, "max_subscriptions_per_connection": 2},
    )
    key = await new_key(settings)
    app = create_app(settings, registry=CollectorRegistry())
    async with (
        started(app),
        serving(app, lifespan=False) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        yield address, GraphQLClient(http, key)


async def test_too_many_points_is_query_too_complex(small: tuple[str, GraphQLClient]) -> None:
    _, gql = small
    points = [{"name": "m", "value": float(i), "timestamp": None} for i in range(60)]
    await gql.execute(
        "mutation($p: [MetricPointInput!]!) { ingestMetrics(points: $p) { accepted } }",
        {"p": points},
    )
    body = await gql.execute('{ metrics(query: {name: "m", last: "1h"}) { data } }')
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": 50}
    fine = await gql.execute(
        '{ metrics(query: {name: "m", last: "1h", aggregation: COUNT}) { data } }'
    )
    assert fine["data"]["metrics"][0]["data"]["v"] == [60.0]


async def test_subscriptions_per_connection_are_limited(small: tuple[str, GraphQLClient]) -> None:
    address, gql = small
    ws = await GraphQLWS.open(f"ws://{address}/graphql", {"Authorization": f"Bearer {gql.key}"})
    await ws.ack()
    query = 'subscription { metricPoints(name: "m") { value } }'
    await ws.subscribe(query)
    await ws.subscribe(query)
    third = await ws.subscribe(query)
    message = await ws.receive()
    assert message["id"] == third
    assert message["type"] == "error"
    assert message["payload"][0]["message"] == "Subscription limit reached"
    await ws.close()


async def test_a_request_over_the_request_timeout_is_stopped_with_504(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No single store call is slow here: the work after the read outlasts the whole-request
    limit (detection made to take 30 s, so the outcome does not depend on the machine)."""

    async def slow_detection(*args: object, **kwargs: object) -> list[object]:
        await asyncio.sleep(30)
        return []

    monkeypatch.setattr(MlService, "detect", slow_detection)
    # generous enough for a first write on a busy machine; detection far outlasts it
    settings = make_settings(
        tmp_path / "data", backend_timeout_seconds=2.0, request_timeout_seconds=3.0
    )
    async with gateway(settings) as gql:
        stored = await gql.execute(
            'mutation { ingestMetrics(points: [{name: "cpu", value: 1}]) { accepted } }'
        )
        assert stored["data"]["ingestMetrics"]["accepted"] == 1
        started = time.monotonic()
        response = await gql.http.post(
            "/graphql",
            json={"query": '{ detectAnomalies(metrics: ["cpu"], window: "1h") { count } }'},
            headers={"Authorization": f"Bearer {gql.key}"},
        )
        assert time.monotonic() - started < 20  # stopped at 3 s, not after the 30 s
        assert response.status_code == 504, response.text
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "REQUEST_TIMEOUT"
        assert "3 s" in error["message"]
        # the gateway goes on answering
        assert (await gql.execute("{ viewer }"))["data"]["viewer"]["tenant"] == "acme"
