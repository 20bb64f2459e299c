"""The gateway with its metrics on InfluxDB (a real `influxd`): ingest, read, batch, outage.

Line protocol bodies are built with `influxdb-client`'s `Point`, an escaping
implementation independent of the gateway's, as Influx clients send them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from influxdb_client import Point, WritePrecision
from prometheus_client import CollectorRegistry

from analytics_gateway.app import Gateway, create_app
from analytics_gateway.backends.influxdb_store import InfluxDBStore
from tests.conftest import (
    GraphQLClient,
    asgi_transport,
    backend_calls,
    make_settings,
    new_key,
    started,
)
from tests.fixtures.influxdb import InfluxServer, influx_server

INGEST = """
mutation($points: [MetricPointInput!]!) {
  ingestMetrics(points: $points) { accepted rejected { index message } }
}
"""


@contextlib.asynccontextmanager
async def influx_gateway(
    data_dir: Path, metrics_url: str, **overrides: Any
) -> AsyncIterator[tuple[GraphQLClient, Gateway]]:
    """An app whose metrics URL is `metrics_url`, with a read/write key for `acme`."""
    settings = make_settings(data_dir, metrics_url=metrics_url, **overrides)
    key = await new_key(settings)
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield GraphQLClient(http, key), app.state.gateway


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def minute_ago() -> int:
    return int(time.time() * 1000) // 60_000 * 60_000 - 5 * 60_000


async def test_graphql_ingest_reads_back_from_influxdb(
    tmp_path: Path, influxdb_url: str, influxdb_server: InfluxServer
) -> None:
    start = minute_ago()
    points = [
        {"name": "cpu_usage", "value": float(i), "labels": {"host": h}, "timestamp": iso(t)}
        for h in ("a", "b")
        for i, t in enumerate(range(start, start + 90_000, 1000))
    ]
    async with influx_gateway(tmp_path / "data", influxdb_url) as (gql, gateway):
        assert isinstance(gateway.services.backends.metrics, InfluxDBStore)
        body = await gql.execute(INGEST, {"points": points})
        assert body["data"]["ingestMetrics"] == {"accepted": 180, "rejected": []}

        raw = await gql.execute(
            '{ metrics(query: {name: "cpu_usage", labels: {host: "a"}, last: "1h"}) '
            "{ labels data summary { count max } } }"
        )
        [series] = raw["data"]["metrics"]
        assert series["labels"] == {"host": "a"}
        assert series["data"] == {
            "t": [start + i * 1000 for i in range(90)],
            "v": [float(i) for i in range(90)],
        }
        assert series["summary"] == {"count": 90, "max": 89.0}

        agg = await gql.execute(
            '{ metrics(query: {name: "cpu_usage", last: "1h", step: "1m", aggregation: MAX, '
            "groupBy: []}) { labels data } }"
        )
        assert agg["data"]["metrics"] == [
            {"labels": {}, "data": {"t": [start, start + 60_000], "v": [59.0, 89.0]}}
        ]
    database = influxdb_url.rsplit("/", 1)[1]
    stored = influxdb_server.query(
        'SELECT count("value") FROM cpu_usage WHERE "@tenant" = \'acme\' GROUP BY host',
        db=database,
    ).json()
    assert [s["values"][0][1] for s in stored["results"][0]["series"]] == [90, 90]


async def test_line_protocol_ingest_keeps_escaped_tags(tmp_path: Path, influxdb_url: str) -> None:
    start = minute_ago()
    tags = {"host": "web 1,a=b", "path": "C:\\logs", "quote": 'say "hi"'}
    lines = []
    for i in range(50):
        point = Point("http.requests").field("value", float(i)).time(start + i, WritePrecision.MS)
        for key, value in tags.items():
            point.tag(key, value)
        lines.append(point.to_line_protocol())
    other = Point("http").tag("host", "x").field("bytes", 7).time(start, WritePrecision.MS)
    lines.append(other.to_line_protocol())
    async with influx_gateway(tmp_path / "data", influxdb_url) as (gql, _):
        assert gql.key is not None
        response = await gql.http.post(
            "/write",
            params={"precision": "ms"},
            content="\n".join(lines).encode(),
            headers={"Authorization": f"Token {gql.key}"},
        )
        assert response.status_code == 204, response.text
        body = await gql.execute(
            '{ metrics(query: {name: "http.requests", last: "1h"}) { labels data } '
            "names: metricNames "
            'hosts: labelValues(metric: "http.requests", label: "host") '
            'paths: labelValues(metric: "http.requests", label: "path") }'
        )
        assert "errors" not in body, body
        [series] = body["data"]["metrics"]
        assert series["labels"] == tags
        assert series["data"]["v"] == [float(i) for i in range(50)]
        assert body["data"]["names"] == ["http.requests", "http_bytes"]
        assert body["data"]["hosts"] == ["web 1,a=b"]
        assert body["data"]["paths"] == ["C:\\logs"]


async def test_twenty_aliased_metrics_fields_make_one_influxql_request(
    tmp_path: Path, influxdb_url: str
) -> None:
    async with influx_gateway(tmp_path / "data", influxdb_url) as (gql, gateway):
        points = [{"name": f"m{i}", "value": float(i)} for i in range(20)]
        body = await gql.execute(INGEST, {"points": points})
        assert body["data"]["ingestMetrics"]["accepted"] == 20
        store = gateway.services.backends.metrics
        assert isinstance(store, InfluxDBStore)
        registry = gateway.metrics.registry
        before = backend_calls(registry, "influxdb", "query_points")
        counted = backend_calls(registry, "influxdb", "series_count")
        fields = " ".join(
            f'a{i}: metrics(query: {{name: "m{i}", last: "1h"}}) {{ data }}' for i in range(20)
        )
        body = await gql.execute("{ " + fields + " }")
        assert "errors" not in body, body
        assert backend_calls(registry, "influxdb", "query_points") - before == 1
        assert backend_calls(registry, "influxdb", "series_count") - counted == 1
        assert [body["data"][f"a{i}"][0]["data"]["v"] for i in range(20)] == [
            [float(i)] for i in range(20)
        ]


async def test_stalled_influxdb_is_reported_as_backend_unavailable(tmp_path: Path) -> None:
    with influx_server(tmp_path / "influx") as server:
        # long enough that a healthy server answers on a busy machine; a paused one never does
        async with influx_gateway(
            tmp_path / "data", server.url("stall"), backend_timeout_seconds=3.0
        ) as (gql, _):
            body = await gql.execute(INGEST, {"points": [{"name": "up", "value": 1.0}]})
            assert body["data"]["ingestMetrics"]["accepted"] == 1
            server.pause()
            try:
                body = await gql.execute(
                    '{ metrics(query: {name: "up", last: "1h"}) { data } metricNames }'
                )
            finally:
                server.resume()
            codes = {e["extensions"]["code"] for e in body["errors"]}
            assert codes == {"BACKEND_UNAVAILABLE"}
            body = await gql.execute('{ metrics(query: {name: "up", last: "1h"}) { data } }')
            assert body["data"]["metrics"][0]["data"]["v"] == [1.0]
