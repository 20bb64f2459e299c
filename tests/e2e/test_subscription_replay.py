"""`since`: a subscriber that was away replays what it missed, or is told to resync."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from analytics_gateway.app import create_app
from tests.conftest import MakeKey, make_settings, open_ws, post_json, post_points, serving, started

POINTS = """subscription($since: String) {
  metricPoints(name: "cpu_usage", since: $since) { value cursor }
}"""
EVENTS = """subscription($since: String) {
  liveEvents(since: $since) { type cursor }
}"""


@pytest.fixture(params=["memory", "redis"])
async def base(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    broker_url = "memory://"
    if request.param == "redis":
        broker_url = request.getfixturevalue("redis").url
    settings = make_settings(tmp_path / "data", live_history_size=5, broker_url=broker_url)
    async with (
        started(create_app(settings, registry=CollectorRegistry())) as app,
        serving(app, lifespan=False) as address,
    ):
        yield address


async def _points(base: str, key: str, *values: float) -> None:
    await post_points(base, key, [{"name": "cpu_usage", "value": v} for v in values])


async def test_resume_replays_missed_points_without_gap_or_repeat(
    base: str, make_key: MakeKey
) -> None:
    key = await make_key("acme")
    ws = await open_ws(base, key)
    await ws.subscribe(POINTS)
    await _points(base, key, 1.0, 2.0)  # one message, two points
    first = (await ws.next_data())["payload"]["data"]["metricPoints"]
    assert first["value"] == 1.0
    await ws.close()  # gone after the first point of a two-point message

    await _points(base, key, 3.0)
    await _points(base, key, 4.0)
    back = await open_ws(base, key)
    await back.subscribe(POINTS, {"since": first["cursor"]})
    replayed = [
        (await back.next_data())["payload"]["data"]["metricPoints"]["value"] for _ in range(3)
    ]
    assert replayed == [2.0, 3.0, 4.0]
    await _points(base, key, 5.0)
    assert (await back.next_data())["payload"]["data"]["metricPoints"]["value"] == 5.0
    await back.close()


async def test_position_older_than_the_history_gets_resync_required(
    base: str, make_key: MakeKey
) -> None:
    key = await make_key("acme")
    ws = await open_ws(base, key)
    await ws.subscribe(EVENTS)
    await post_json(
        base,
        key,
        "/graphql",
        {"query": 'mutation { recordEvents(events: [{type: "a"}]) { accepted } }'},
    )
    old = (await ws.next_data())["payload"]["data"]["liveEvents"]["cursor"]
    await ws.close()
    for _ in range(8):  # the history keeps 5 messages
        await post_json(
            base,
            key,
            "/graphql",
            {"query": 'mutation { recordEvents(events: [{type: "b"}]) { accepted } }'},
        )
    back = await open_ws(base, key)
    op_id = await back.subscribe(EVENTS, {"since": old})
    message = await back.receive()
    assert message["id"] == op_id
    assert message["type"] == "next"
    assert message["payload"]["errors"][0]["extensions"]["code"] == "RESYNC_REQUIRED"
    await back.close()


async def test_malformed_or_foreign_position_is_bad_user_input(
    base: str, make_key: MakeKey
) -> None:
    key = await make_key("acme")
    other = await make_key("globex")
    ws = await open_ws(base, other)
    await ws.subscribe(EVENTS)
    await post_json(
        base,
        other,
        "/graphql",
        {"query": 'mutation { recordEvents(events: [{type: "x"}]) { accepted } }'},
    )
    foreign = (await ws.next_data())["payload"]["data"]["liveEvents"]["cursor"]
    await ws.close()
    await post_json(
        base,
        key,
        "/graphql",
        {"query": 'mutation { recordEvents(events: [{type: "y"}]) { accepted } }'},
    )
    for since, code in (("yesterday", "BAD_USER_INPUT"), (foreign, None)):
        client = await open_ws(base, key)
        await client.subscribe(EVENTS, {"since": since})
        message = await client.receive()
        if code is None:  # another tenant's position is not one of this stream's
            codes = {"RESYNC_REQUIRED", "BAD_USER_INPUT"}
            assert message["payload"]["errors"][0]["extensions"]["code"] in codes
        else:
            assert message["payload"]["errors"][0]["extensions"]["code"] == code
        await client.close()
