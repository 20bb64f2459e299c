"""An alert round is a trace, and the webhook it sends carries that trace's id.

The notification is delivered later, from the durable outbox, so its span
continues the round's trace from the context stored with the entry; the
receiver gets it as `traceparent`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_span_id, format_trace_id
from starlette.applications import Starlette

from tests.alerting.conftest import (
    LOCAL_RECEIVERS,
    Clock,
    alert_gateway,
    client_for,
    create_alert,
    create_channel,
    ingest,
    tick,
)
from tests.conftest import MakeKey, make_settings
from tests.fixtures.alert_receivers import WEBHOOK_SECRET, HttpReceiver


@pytest.fixture
async def traced_app(spans: InMemorySpanExporter, tmp_path: Path) -> AsyncIterator[Starlette]:
    settings = make_settings(tmp_path / "data", egress_allow=LOCAL_RECEIVERS)
    async with alert_gateway(settings, Clock()) as app:
        yield app


async def test_the_webhook_carries_the_trace_of_the_round_that_fired(
    traced_app: Starlette,
    make_key: MakeKey,
    http_receiver: HttpReceiver,
    spans: InMemorySpanExporter,
) -> None:
    clock: Clock = traced_app.state.gateway.clock  # the one the app was built with
    async with client_for(traced_app, await make_key("acme", "ingest,read,write,admin")) as acme:
        await create_channel(
            acme, name="hook", kind="WEBHOOK", url=http_receiver.url("/hook"), secret=WEBHOOK_SECRET
        )
        await create_alert(
            acme,
            name="hot",
            condition="temp > 50",
            interval="10s",
            channels=["hook"],
            groupWait="0s",
        )
        await tick(traced_app)
        await ingest(acme, "temp", 90.0, clock.at(10))
        clock.advance(10)
        spans.clear()
        await tick(traced_app)

    [received] = http_receiver.at("/hook")
    traceparent = received.headers["traceparent"]
    _, trace_id, parent_id, _ = traceparent.split("-")
    found = spans.get_finished_spans()
    [round_span] = [s for s in found if s.name == "alert round"]
    assert format_trace_id(round_span.context.trace_id) == trace_id
    [notify] = [s for s in found if s.name == "notify"]
    assert format_trace_id(notify.context.trace_id) == trace_id
    assert format_span_id(notify.context.span_id) == parent_id  # the request's parent
    assert notify.parent is not None
    assert notify.parent.span_id == round_span.context.span_id
    assert notify.attributes is not None
    assert notify.attributes["alert.channel.kind"] == "webhook"
    assert notify.attributes["alert.delivery.outcome"] == "delivered"
    reads = [s for s in found if s.name == "duckdb query_points"]
    assert any(
        s.parent is not None and s.parent.span_id == round_span.context.span_id for s in reads
    )
