"""Store requests carry the current trace as `traceparent`, to InfluxDB, Elasticsearch
and Prometheus alike: a local HTTP server stands in for each and notes the header
of the first request (it answers 500, so the call fails, after the header was seen)."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import format_span_id, format_trace_id, get_current_span

from analytics_gateway import tracing
from analytics_gateway.backends.elasticsearch_events import ElasticsearchEventStore
from analytics_gateway.backends.influxdb_store import InfluxDBStore
from analytics_gateway.backends.prometheus_source import PrometheusSource
from analytics_gateway.domain import EventQuery
from analytics_gateway.errors import GatewayError


class _Noting(BaseHTTPRequestHandler):
    seen: list[str | None]

    def _answer(self) -> None:
        self.seen.append(self.headers.get("traceparent"))
        self.send_response(500)
        self.send_header("content-length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def noting_server() -> Iterator[tuple[str, list[str | None]]]:
    seen: list[str | None] = []
    handler = type("Handler", (_Noting,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def traced() -> Iterator[None]:
    provider = TracerProvider()
    tracing.install(provider)
    try:
        yield
    finally:
        tracing.uninstall()
        provider.shutdown()


async def _influx(address: str) -> Any:
    store = InfluxDBStore.from_url(f"influxdb://{address}/db", timeout_seconds=2)
    try:
        return await store.metric_names("acme", None)
    finally:
        await store.close()


async def _elasticsearch(address: str) -> Any:
    store = ElasticsearchEventStore.from_url(f"elasticsearch://{address}/t", timeout_seconds=2)
    try:
        return await store.query_events(EventQuery("acme", None, None, None, None, 5))
    finally:
        await store.close()


async def _prometheus(address: str) -> Any:
    client = httpx.AsyncClient(base_url=f"http://{address}")
    source = PrometheusSource(client, tenant_label="tenant", timeout_seconds=2, max_points=10)
    try:
        return await source.metric_names("acme", None)
    finally:
        await source.close()


@pytest.mark.parametrize("call", [_influx, _elasticsearch, _prometheus])
async def test_store_requests_carry_traceparent(
    traced: None,
    noting_server: tuple[str, list[str | None]],
    call: Callable[[str], Awaitable[Any]],
) -> None:
    address, seen = noting_server
    with tracing.span("request"):
        context = get_current_span().get_span_context()
        with pytest.raises(GatewayError):
            await call(address)
    assert seen, "the store was never called"
    header = seen[0]
    assert header is not None, "no traceparent"
    _, trace_id, parent_id, _ = header.split("-")
    assert trace_id == format_trace_id(context.trace_id)
    assert parent_id != "0" * 16
    assert parent_id != format_span_id(0)


async def test_without_tracing_no_traceparent_is_sent(
    noting_server: tuple[str, list[str | None]],
) -> None:
    address, seen = noting_server
    with pytest.raises(GatewayError):
        await _influx(address)
    assert seen == [None]
