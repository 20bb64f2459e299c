"""Subscriptions no message concerns cost that message nothing; fan-out is paced.

Before, every `metricPoints` subscription walked every point of every message
on its metric's channel: 40 connections x 100 subscriptions to label sets that
never matched, then one 50,000-line write, and another tenant's `{viewer}`
took 13 s. Now the hub hands a message only to the listeners one of its
series selects, counted by `gateway_fanout_deliveries_total`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from analytics_gateway.app import Gateway
from analytics_gateway.config import Settings
from tests.conftest import MakeKey, make_settings, open_ws, until_listening
from tests.graphql_ws import GraphQLWS

POINTS = """subscription($labels: JSON) {
  metricPoints(name: "load", labels: $labels) { labels value }
}"""
CONNECTIONS = 4
PER_CONNECTION = 100
LINES = 50_000
DEADLINE_S = 120.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # 400 subscribes at once: each is a request, beyond the default burst of 200
    return make_settings(tmp_path / "data", quotas="request_burst=1000")


async def test_unmatched_subscriptions_cost_a_big_write_nothing(
    base: str, app: Starlette, make_key: MakeKey
) -> None:
    gateway: Gateway = app.state.gateway
    registry = gateway.metrics.registry
    attacker = await make_key("attacker", "ingest,read,write")
    async with contextlib.AsyncExitStack() as stack:
        sockets: list[GraphQLWS] = []
        for c in range(CONNECTIONS):
            ws = await open_ws(base, attacker)
            stack.push_async_callback(ws.close)
            sockets.append(ws)
            for s in range(PER_CONNECTION - (1 if c == 0 else 0)):
                await ws.subscribe(POINTS, {"labels": {"host": f"never-{c}-{s}"}})
        watcher = sockets[0]
        await watcher.subscribe(POINTS, {"labels": {"host": "h7"}})
        await until_listening(gateway.services.hub, CONNECTIONS * PER_CONNECTION, DEADLINE_S)
        before = registry.get_sample_value("gateway_fanout_deliveries_total") or 0.0

        body = "\n".join(
            f"load,host=h{i % 10} value={i} {1_700_000_000_000 + i}" for i in range(LINES)
        )
        async with httpx.AsyncClient(base_url=f"http://{base}", timeout=DEADLINE_S) as http:
            written = await http.post(
                "/write?precision=ms",
                content=body,
                headers={"Authorization": f"Bearer {attacker}"},
            )
            assert written.status_code == 204, written.text
            first = await watcher.next_data(timeout=DEADLINE_S)
            assert first["payload"]["data"]["metricPoints"]["labels"] == {"host": "h7"}

        # one message for the metric, handed to the one subscription it concerns
        delivered = (registry.get_sample_value("gateway_fanout_deliveries_total") or 0.0) - before
        assert delivered == 1
