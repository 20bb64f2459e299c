"""The spans of one request, from an in-memory exporter: shape, parents, no tenant values.

The tracer provider is installed before the app is built, as `serve` does from
the environment, so the schema gets its operation spans.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id
from prometheus_client import CollectorRegistry

from analytics_gateway import tracing
from analytics_gateway.app import create_app
from analytics_gateway.config import Settings
from analytics_gateway.observability import JsonFormatter
from tests.conftest import GraphQLClient, asgi_transport, new_key, started

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
SECRET_LABEL = "tenant-secret-value"

QUERY = """query ReadCpu($host: String!) {
  metrics(query: {name: "cpu", labels: {host: $host}, last: "1h"}) { labels data }
}"""


@pytest.fixture
async def traced(spans: InMemorySpanExporter, settings: Settings) -> AsyncIterator[GraphQLClient]:
    key = await new_key(settings)
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield GraphQLClient(http, key)


def _by_name(found: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in found if s.name.startswith(prefix)]


async def test_one_request_is_one_trace_under_the_callers_parent(
    traced: GraphQLClient, spans: InMemorySpanExporter
) -> None:
    await traced.http.post(
        "/analytics/metrics",
        json=[{"name": "cpu", "value": 1.0, "labels": {"host": SECRET_LABEL}}],
        headers={"Authorization": f"Bearer {traced.key}"},
    )
    spans.clear()
    response = await traced.http.post(
        "/graphql",
        json={"query": QUERY, "variables": {"host": SECRET_LABEL}},
        headers={
            "Authorization": f"Bearer {traced.key}",
            "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
        },
    )
    body = response.json()
    assert body["data"]["metrics"][0]["data"]["v"] == [1.0]
    assert body["extensions"]["traceId"] == CLIENT_TRACE
    found = spans.get_finished_spans()
    assert {format_trace_id(s.context.trace_id) for s in found} == {CLIENT_TRACE}

    [server] = _by_name(found, "POST")
    assert server.kind is SpanKind.SERVER
    assert server.name == "POST /graphql"
    assert server.parent is not None
    assert format_span_id(server.parent.span_id) == CLIENT_SPAN
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["http.route"] == "/graphql"

    [operation] = _by_name(found, "query")
    assert operation.name == "query ReadCpu"
    assert operation.parent is not None
    assert operation.parent.span_id == server.context.span_id
    assert operation.attributes is not None
    assert operation.attributes["graphql.operation.name"] == "ReadCpu"
    assert operation.attributes["analytics.tenant"] == "acme"
    assert len(str(operation.attributes["graphql.document.hash"])) == 64

    [resolver] = _by_name(found, "resolve Query.metrics")
    assert resolver.parent is not None
    assert resolver.parent.span_id == operation.context.span_id
    [loader] = _by_name(found, "dataloader metrics")
    assert loader.parent is not None
    assert loader.parent.span_id == resolver.context.span_id
    assert loader.attributes is not None
    assert loader.attributes["dataloader.keys"] == 1
    reads = _by_name(found, "duckdb query_points")
    assert len(reads) == 1
    assert reads[0].kind is SpanKind.CLIENT
    assert reads[0].parent is not None
    assert reads[0].parent.span_id == loader.context.span_id
    assert reads[0].attributes is not None
    assert reads[0].attributes["db.system"] == "duckdb"

    # what the tenant sent as values appears in no span
    for span in found:
        text = json.dumps({**(span.attributes or {})}, default=str) + span.name
        assert SECRET_LABEL not in text, span.name


async def test_without_a_callers_parent_a_new_trace_starts_and_logs_name_it(
    traced: GraphQLClient, spans: InMemorySpanExporter
) -> None:
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("analytics_gateway.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        body = await traced.execute("{ viewer }")
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    trace_id = body["extensions"]["traceId"]
    assert len(trace_id) == 32
    assert trace_id != CLIENT_TRACE
    [server] = _by_name(spans.get_finished_spans(), "POST")
    assert server.parent is None
    assert format_trace_id(server.context.trace_id) == trace_id
    [line] = lines.getvalue().splitlines()
    assert json.loads(line)["trace_id"] == trace_id


async def test_off_no_spans_no_trace_id(gql: GraphQLClient) -> None:
    assert not tracing.enabled()
    body = await gql.execute("{ viewer }")
    assert "traceId" not in body.get("extensions", {})


async def test_latency_buckets_carry_the_trace_id_as_an_exemplar(traced: GraphQLClient) -> None:
    body = await traced.execute("query Slow { viewer }")
    trace_id = body["extensions"]["traceId"]
    scrape = await traced.http.get(
        "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert scrape.headers["content-type"].startswith("application/openmetrics-text")
    buckets = [
        line
        for line in scrape.text.splitlines()
        if line.startswith("gateway_graphql_request_seconds_bucket{")
    ]
    assert any(f'# {{trace_id="{trace_id}"}}' in line for line in buckets), buckets
    plain = await traced.http.get("/metrics")  # the classic text format: no exemplars
    assert plain.headers["content-type"].startswith("text/plain")
    assert "trace_id=" not in plain.text


async def test_an_ingest_batch_is_a_span_of_its_request(
    traced: GraphQLClient, spans: InMemorySpanExporter
) -> None:
    response = await traced.http.post(
        "/analytics/metrics",
        json=[{"name": "cpu", "value": float(i), "labels": {"i": str(i)}} for i in range(3)],
        headers={"Authorization": f"Bearer {traced.key}"},
    )
    assert response.status_code == 200, response.text
    found = spans.get_finished_spans()
    [server] = _by_name(found, "POST /analytics/metrics")
    [batch] = _by_name(found, "ingest points")
    assert batch.parent is not None
    assert batch.parent.span_id == server.context.span_id
    assert batch.attributes is not None
    assert batch.attributes["ingest.points"] == 3
    assert batch.attributes["analytics.tenant"] == "acme"
    writes = _by_name(found, "duckdb write_points")
    assert [w.parent.span_id for w in writes if w.parent] == [batch.context.span_id]
