"""Ingest and read metrics through GraphQL, end to end on the embedded store."""

from __future__ import annotations

import time

from starlette.applications import Starlette

from analytics_gateway.app import Gateway
from analytics_gateway.backends.duckdb_store import DuckDBStore
from tests.conftest import GraphQLClient, backend_calls

INGEST = """
mutation($points: [MetricPointInput!]!) {
  ingestMetrics(points: $points) { accepted rejected { index message } }
}
"""


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


async def ingest(gql: GraphQLClient, points: list[dict[str, object]]) -> dict[str, object]:
    body = await gql.execute(INGEST, {"points": points})
    assert "errors" not in body, body
    result: dict[str, object] = body["data"]["ingestMetrics"]
    return result


async def test_ingested_points_come_back_raw_and_aggregated(gql: GraphQLClient) -> None:
    now = int(time.time() * 1000) // 60_000 * 60_000 - 10 * 60_000
    points = [
        {
            "name": "cpu_usage",
            "value": float(i),
            "labels": {"host": h},
            "timestamp": iso(now + i * 1000),
        }
        for h in ("a", "b")
        for i in range(120)
    ]
    result = await ingest(gql, points)
    assert result == {"accepted": 240, "rejected": []}

    raw = await gql.execute(
        """{ metrics(query: {name: "cpu_usage", labels: {host: "a"}, last: "1h"}) {
              name labels data summary { count min max avg last } points(limit: 2) { value } } }"""
    )
    [series] = raw["data"]["metrics"]
    assert series["labels"] == {"host": "a"}
    assert series["data"]["v"] == [float(i) for i in range(120)]
    assert series["data"]["t"][:2] == [now, now + 1000]
    assert series["summary"] == {"count": 120, "min": 0.0, "max": 119.0, "avg": 59.5, "last": 119.0}
    assert [p["value"] for p in series["points"]] == [118.0, 119.0]

    agg = await gql.execute(
        """{ metrics(query: {name: "cpu_usage", last: "1h", step: "1m", aggregation: MAX,
              groupBy: []}) { labels data } }"""
    )
    [merged] = agg["data"]["metrics"]
    assert merged["labels"] == {}
    assert merged["data"] == {"t": [now, now + 60_000], "v": [59.0, 119.0]}


async def test_twenty_aliased_metrics_fields_make_one_store_call(
    gql: GraphQLClient, app: Starlette
) -> None:
    await ingest(gql, [{"name": f"m{i}", "value": float(i)} for i in range(20)])
    gateway: Gateway = app.state.gateway
    registry = gateway.metrics.registry
    # of every store: the metric store, whichever it is
    before = backend_calls(registry, operation="query_points")
    counted = backend_calls(registry, operation="series_count")
    fields = " ".join(
        f'a{i}: metrics(query: {{name: "m{i}", last: "1h"}}) {{ data }}' for i in range(20)
    )
    body = await gql.execute("{ " + fields + " }")
    assert "errors" not in body, body
    assert backend_calls(registry, operation="query_points") - before == 1
    # their cost: 7,200 points, a light read, whose series the embedded store counts in
    # the read's own call; InfluxDB needs a request of its own for them
    in_the_read = isinstance(gateway.services.backends.metrics, DuckDBStore)
    assert backend_calls(registry, operation="series_count") - counted == (not in_the_read)
    assert [body["data"][f"a{i}"][0]["data"]["v"] for i in range(20)] == [
        [float(i)] for i in range(20)
    ]


async def test_metric_names_and_label_values(gql: GraphQLClient) -> None:
    await ingest(
        gql,
        [
            {"name": "song_plays", "value": 3, "labels": {"country": "DE"}},
            {"name": "song_plays", "value": 4, "labels": {"country": "US"}},
            {"name": "revenue", "value": 10},
        ],
    )
    body = await gql.execute(
        '{ all: metricNames s: metricNames(prefix: "so") '
        'labelValues(metric: "song_plays", label: "country") }'
    )
    assert body["data"] == {
        "all": ["revenue", "song_plays"],
        "s": ["song_plays"],
        "labelValues": ["DE", "US"],
    }


async def test_business_metrics_are_stored_as_points(gql: GraphQLClient) -> None:
    body = await gql.execute(
        """mutation { recordBusinessMetrics(input: {revenue: 12.5, activeUsers: 300,
             conversionRate: 0.04, extra: {churned: 2}}) { accepted rejected { index } } }"""
    )
    assert body["data"]["recordBusinessMetrics"] == {"accepted": 4, "rejected": []}
    names = await gql.execute("{ metricNames }")
    assert names["data"]["metricNames"] == ["active_users", "churned", "conversion_rate", "revenue"]
