"""Subscriptions over a real WebSocket (uvicorn), including shared cohorts."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed

from analytics_gateway.app import Gateway
from tests.conftest import MakeKey, open_ws, post_points
from tests.graphql_ws import GraphQLWS

POINTS = """subscription($labels: JSON) {
  metricPoints(name: "cpu_usage", labels: $labels) { name labels value }
}"""


async def test_identical_subscriptions_share_one_cohort(
    base: str, app: Starlette, make_key: MakeKey
) -> None:
    key = await make_key("acme")
    gateway: Gateway = app.state.gateway
    clients = [await open_ws(base, key) for _ in range(5)]
    ids = [await ws.subscribe(POINTS, {"labels": {"host": "a"}}) for ws in clients]
    other = await open_ws(base, key)
    await other.subscribe(POINTS, {"labels": {"host": "b"}})
    await asyncio.sleep(0.2)
    assert len(gateway.services.cohorts) == 2
    registry = gateway.metrics.registry
    assert registry.get_sample_value("gateway_active_subscriptions") == 6.0

    await post_points(
        base,
        key,
        [
            {"name": "cpu_usage", "value": 1.0, "labels": {"host": "a"}},
            {"name": "cpu_usage", "value": 2.0, "labels": {"host": "b"}},
        ],
    )
    for ws, op_id in zip(clients, ids, strict=True):
        message = await ws.next_data()
        assert message["id"] == op_id
        assert message["payload"]["data"]["metricPoints"] == {
            "name": "cpu_usage",
            "labels": {"host": "a"},
            "value": 1.0,
        }
    assert (await other.next_data())["payload"]["data"]["metricPoints"]["value"] == 2.0

    # one member leaving does not end the cohort for the others
    await clients[0].send({"id": ids[0], "type": "complete"})
    await clients[0].close()
    await asyncio.sleep(0.1)
    await post_points(
        base,
        key,
        [{"name": "cpu_usage", "value": 3.0, "labels": {"host": "a"}}],
    )
    for ws in clients[1:]:
        assert (await ws.next_data())["payload"]["data"]["metricPoints"]["value"] == 3.0
    for ws in [*clients[1:], other]:
        await ws.close()
    await asyncio.sleep(0.2)
    assert len(gateway.services.cohorts) == 0
    assert gateway.services.hub.active == 0
    assert registry.get_sample_value("gateway_active_subscriptions") == 0.0


async def test_live_events_filter_by_type(base: str, make_key: MakeKey) -> None:
    key = await make_key("acme")
    ws = await open_ws(base, key)
    await ws.subscribe('subscription { liveEvents(type: "song_play") { type userId metadata } }')
    await asyncio.sleep(0.1)
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"http://{base}/graphql",
            json={
                "query": """mutation { recordEvents(events: [
                  {type: "signup", userId: "u1"},
                  {type: "song_play", userId: "u2", metadata: {song_id: "s9", duration: 200}}
                ]) { accepted } }"""
            },
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.json()["data"]["recordEvents"]["accepted"] == 2
    message = await ws.next_data()
    assert message["payload"]["data"]["liveEvents"] == {
        "type": "song_play",
        "userId": "u2",
        "metadata": {"song_id": "s9", "duration": 200},
    }
    with pytest.raises(TimeoutError):
        await ws.next_data(timeout=0.3)
    await ws.close()


async def test_invalid_subscription_gets_an_error_message(base: str, make_key: MakeKey) -> None:
    ws = await open_ws(base, await make_key("acme"))
    op_id = await ws.subscribe("subscription { metricPoints(name: 5) { value } }")
    message = await ws.receive()
    assert message["type"] == "error"
    assert message["id"] == op_id
    assert message["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    bad_name = await ws.subscribe('subscription { metricPoints(name: "no spaces") { value } }')
    message = await ws.receive()
    assert message["id"] == bad_name
    assert message["type"] in {"next", "error"}
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    await ws.close()


async def test_read_scope_is_required_to_subscribe(base: str, make_key: MakeKey) -> None:
    ws = await open_ws(base, await make_key("acme", "write"))
    await ws.subscribe(POINTS)
    message = await ws.receive()
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    await ws.close()


async def _drain_until_closed(ws: GraphQLWS) -> None:
    while True:  # at most one watcher interval (1 s), then the close frame
        await ws.receive(timeout=3)


async def test_revoking_a_key_closes_its_open_websockets(
    base: str, app: Starlette, make_key: MakeKey
) -> None:
    doomed_key = await make_key("acme")
    other_key = await make_key("acme")
    doomed = await open_ws(base, doomed_key)
    other = await open_ws(base, other_key)
    await doomed.subscribe(POINTS)
    await other.subscribe(POINTS)
    await asyncio.sleep(0.1)
    gateway: Gateway = app.state.gateway
    await gateway.services.backends.config.revoke_key(doomed_key.split("_")[1])
    with pytest.raises(ConnectionClosed) as closed:
        await _drain_until_closed(doomed)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
    assert closed.value.rcvd.reason == "API key revoked"
    await post_points(base, other_key, [{"name": "cpu_usage", "value": 5.0, "labels": {}}])
    assert (await other.next_data())["payload"]["data"]["metricPoints"]["value"] == 5.0
    await other.close()
