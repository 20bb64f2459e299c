"""Health, readiness, the gateway's own metrics, and correlation ids."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import GraphQLClient, production_backends, until_ready


async def test_health_and_readiness(
    client: httpx.AsyncClient, request: pytest.FixtureRequest
) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await until_ready(client)
    assert ready.status_code == 200
    checked = ["broker", "metrics", "events", "config", "cache"]
    production = production_backends(request)
    if production:
        checked.append("buffer")  # the ingest buffer is configured only there
    checked.append("ml")  # the ML stack has paid its cold start
    if production:
        checked.append("buffer_drainer")
    expected: dict[str, object] = {"status": "ready", "checks": dict.fromkeys(checked, True)}
    if production:
        expected["buffer_backlog"] = {"entries": 0, "oldestSeconds": 0.0}
        expected["breakers"] = {"metrics": "closed", "events": "closed"}
    assert ready.json() == expected


async def test_prometheus_metrics_count_operations_points_and_errors(
    client: httpx.AsyncClient, gql: GraphQLClient, request: pytest.FixtureRequest
) -> None:
    await gql.execute(
        'mutation Push { ingestMetrics(points: [{name: "a", value: 1}, {name: "b c", value: 2}]) '
        "{ accepted } }"
    )
    await gql.execute("query Names { metricNames }")
    await gql.execute('{ metrics(query: {name: "a", last: "nonsense"}) { name } }')
    text = (await client.get("/metrics")).text
    assert 'gateway_graphql_requests_total{operation_type="mutation"} 1.0' in text
    assert 'gateway_graphql_requests_total{operation_type="query"} 2.0' in text
    assert "Push" not in text  # operation names are the clients', never a label
    assert 'gateway_ingested_total{kind="point"} 1.0' in text
    assert 'gateway_rejected_total{kind="point"} 1.0' in text
    assert 'gateway_graphql_errors_total{code="BAD_USER_INPUT"} 1.0' in text
    assert "gateway_active_subscriptions 0.0" in text
    assert "gateway_subscription_dropped_messages_total 0.0" in text
    # one write of the accepted point and one name look-up, on whichever metric store
    store = "influxdb" if production_backends(request) else "duckdb"
    calls = 'gateway_backend_calls_total{{backend="{}",operation="{}"}} 1.0'
    assert calls.format(store, "write_points") in text
    assert calls.format(store, "metric_names") in text


async def test_correlation_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert given.headers["x-request-id"] == "abc123"
    made = await client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
