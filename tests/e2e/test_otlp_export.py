"""`serve` exports its traces over OTLP/HTTP to a real receiver, as the `OTEL_*`
variables say: one GraphQL request, with the client's `traceparent`, is one
trace holding the HTTP, GraphQL, resolver, loader and store spans, each the
child of the one above. In the production run the store spans are InfluxDB's.

The receiver is a Starlette app decoding OpenTelemetry's own protobuf messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests import conftest
from tests.conftest import make_settings, new_key, production_backends, serving
from tests.servers import GatewayProcess

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"


@dataclass
class Receiver:
    spans: list[Span] = field(default_factory=list)
    services: set[str] = field(default_factory=set)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def traces(self, request: Request) -> Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.body())
        for resource_spans in message.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    self.services.add(attribute.value.string_value)
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(scope_spans.spans)
        self.arrived.set()
        return Response(
            ExportTraceServiceResponse().SerializeToString(),
            media_type="application/x-protobuf",
        )

    def of_trace(self, trace_id: str) -> list[Span]:
        return [s for s in self.spans if s.trace_id.hex() == trace_id]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    found = Receiver()
    app = Starlette(routes=[Route("/v1/traces", found.traces, methods=["POST"])])
    async with serving(app) as address:
        yield found, f"http://{address}"


def _store_env() -> dict[str, str]:
    """The stores of this run (production: the real servers) as `serve` reads them."""
    return {f"ANALYTICS_{name.upper()}": url for name, url in conftest._store_urls.items()}


def _one(spans: list[Span], prefix: str) -> Span:
    matching = [s for s in spans if s.name.startswith(prefix)]
    assert len(matching) == 1, [s.name for s in spans]
    return matching[0]


async def test_one_request_arrives_as_one_linked_trace(
    receiver: tuple[Receiver, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    production = production_backends(request)
    found, endpoint = receiver
    env = {
        "ANALYTICS_JSON_LOGS": "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_SERVICE_NAME": "gateway-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        **_store_env(),
    }
    data_dir = tmp_path / "gateway"
    key = await new_key(make_settings(data_dir), scopes="ingest,read")
    process = GatewayProcess(data_dir, env)
    await asyncio.to_thread(process.start)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=process.url, headers=headers, timeout=60) as http:
            stored = await http.post(
                "/analytics/metrics", json=[{"name": "cpu", "value": 3.0, "labels": {"h": "a"}}]
            )
            assert stored.status_code == 200, stored.text
            query = '{ metrics(query: {name: "cpu", last: "1h"}) { labels data } }'
            answer = await http.post(
                "/graphql",
                json={"query": query},
                headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"},
            )
        body = answer.json()
        assert body["extensions"]["traceId"] == CLIENT_TRACE
        assert body["data"]["metrics"][0]["data"]["v"] == [3.0]

        give_up = time.monotonic() + 60
        store = "influxdb query_points" if production else "duckdb query_points"
        while not any(s.name == store for s in found.of_trace(CLIENT_TRACE)):
            assert time.monotonic() < give_up, [s.name for s in found.spans]
            found.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(found.arrived.wait(), 5)
    finally:
        await asyncio.to_thread(process.stop)

    assert found.services == {"gateway-under-test"}
    trace = found.of_trace(CLIENT_TRACE)
    server = _one(trace, "POST /graphql")
    assert server.parent_span_id.hex() == CLIENT_SPAN
    assert server.kind == Span.SPAN_KIND_SERVER
    operation = _one(trace, "query")
    assert operation.parent_span_id == server.span_id
    resolver = _one(trace, "resolve Query.metrics")
    assert resolver.parent_span_id == operation.span_id
    loader = _one(trace, "dataloader metrics")
    assert loader.parent_span_id == resolver.span_id
    read = _one(trace, store)
    assert read.parent_span_id == loader.span_id
    assert read.kind == Span.SPAN_KIND_CLIENT
