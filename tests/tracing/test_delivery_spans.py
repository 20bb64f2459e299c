"""One live message in `TRACE_EVERY` is traced while it is delivered; none when off."""

from __future__ import annotations

import asyncio

import orjson
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from analytics_gateway import tracing
from analytics_gateway.backends.memory_broker import MemoryBroker
from analytics_gateway.resolvers import streams
from analytics_gateway.subscriptions.channels import metric_channel
from analytics_gateway.subscriptions.hub import Hub


async def _deliver(count: int) -> int:
    broker = MemoryBroker()
    hub = Hub(broker, queue_size=10 * count)
    await hub.start()
    channel = metric_channel("acme", "cpu")
    received = 0
    try:
        stream = streams.messages(hub, channel, None)
        first = asyncio.ensure_future(anext(stream))
        for _ in range(3000):  # up to 30 s on a busy machine: listening is a task away
            if hub.active:
                break
            await asyncio.sleep(0.01)
        else:
            raise TimeoutError("the stream never listened")
        payload = orjson.dumps({"name": "cpu", "series": []})
        await broker.publish_many([(channel, payload)] * count)
        await first
        received = 1
        while received < count:
            await anext(stream)
            received += 1
        await stream.aclose()
    finally:
        await hub.stop()
        await broker.close()
    return received


async def test_one_delivery_in_a_hundred_is_a_span(spans: InMemorySpanExporter) -> None:
    assert await _deliver(3 * streams.TRACE_EVERY) == 3 * streams.TRACE_EVERY
    found = [s for s in spans.get_finished_spans() if s.name == "subscription delivery"]
    assert 2 <= len(found) <= 3  # the last one may still be open when the stream closes
    for span in found:
        assert span.attributes is not None
        assert span.attributes["messaging.destination.kind"] == "metric"


async def test_no_spans_when_tracing_is_off() -> None:
    assert not tracing.enabled()
    assert await _deliver(streams.TRACE_EVERY) == streams.TRACE_EVERY
