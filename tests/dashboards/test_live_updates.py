"""`dashboardUpdates` over a real WebSocket: pushed on new points, coalesced, tenant-scoped."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from datetime import datetime
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.conftest import GraphQLClient, MakeKey, open_ws, post_points, until_listening
from tests.dashboards.helpers import create
from tests.graphql_ws import GraphQLWS

UPDATES = """subscription($id: ID!) {
  dashboardUpdates(id: $id) {
    dashboardId version timestamp
    widgets { widgetId data { __typename ... on KpiData { value } ... on ChartData {
      series { labels data } } } }
  }
}"""
COMPONENTS: list[dict[str, Any]] = [
    {"type": "KPI", "id": "revenue", "metric": "revenue", "aggregation": "SUM"},
    {"type": "CHART", "id": "cpu", "metric": "cpu_usage", "labels": {"host": "a"}},
]


def _widgets(message: dict[str, Any]) -> dict[str, Any]:
    update = message["payload"]["data"]["dashboardUpdates"]
    return {w["widgetId"]: w["data"] for w in update["widgets"]}


def _error_code(message: dict[str, Any]) -> str:
    """The code of a subscription's error, sent as `error` or as `next` with errors."""
    assert message["type"] in {"next", "error"}, message
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    code: str = errors[0]["extensions"]["code"]
    return code


async def _no_message(ws: GraphQLWS, seconds: float) -> None:
    with pytest.raises(TimeoutError):
        await ws.next_data(timeout=seconds)


async def test_updates_carry_only_the_widgets_new_points_touch(
    app: Starlette, base: str, gql: GraphQLClient
) -> None:
    assert gql.key is not None
    board = await create(gql, "live", COMPONENTS)
    ws = await open_ws(base, gql.key)
    listening = app.state.gateway.services.hub.active
    await ws.subscribe(UPDATES, {"id": board["id"]})
    await until_listening(app.state.gateway.services.hub, listening + 2)  # revenue and cpu_usage

    await post_points(base, gql.key, [{"name": "revenue", "value": 12.5}])
    message = await ws.next_data(timeout=5)
    assert message["payload"]["data"]["dashboardUpdates"]["dashboardId"] == board["id"]
    assert _widgets(message) == {"revenue": {"__typename": "KpiData", "value": 12.5}}

    # a point of another host does not touch the chart filtered on host a
    await post_points(base, gql.key, [{"name": "cpu_usage", "value": 7.0, "labels": {"host": "b"}}])
    await _no_message(ws, 1.5)
    await post_points(base, gql.key, [{"name": "cpu_usage", "value": 9.0, "labels": {"host": "a"}}])
    chart = _widgets(await ws.next_data(timeout=5))["cpu"]
    assert chart["series"][0]["labels"] == {"host": "a"}
    assert chart["series"][0]["data"]["v"] == [9.0]
    await ws.close()


async def test_bursts_are_coalesced_to_one_update_per_widget_per_second(
    app: Starlette, base: str, gql: GraphQLClient
) -> None:
    assert gql.key is not None
    board = await create(gql, "burst", COMPONENTS)
    ws = await open_ws(base, gql.key)
    listening = app.state.gateway.services.hub.active
    await ws.subscribe(UPDATES, {"id": board["id"]})
    await until_listening(app.state.gateway.services.hub, listening + 2)  # revenue and cpu_usage
    arrivals: list[dict[str, Any]] = []

    async def receive() -> None:
        while True:
            arrivals.append((await ws.next_data(timeout=10))["payload"]["data"])

    reader = asyncio.create_task(receive())
    started = time.monotonic()
    for _ in range(8):  # 8 points in about a second (longer on a busy machine)
        await post_points(base, gql.key, [{"name": "revenue", "value": 1.0}])
        await asyncio.sleep(0.1)
    posting = time.monotonic() - started
    deadline = time.monotonic() + 30  # until the update holding every point
    while not arrivals or arrivals[-1]["dashboardUpdates"]["widgets"][0]["data"]["value"] < 8:
        assert time.monotonic() < deadline, arrivals
        await asyncio.sleep(0.05)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    updates = [a["dashboardUpdates"] for a in arrivals]
    # the first point at once, then at most one update a second while points come, and one
    # after the last, holding every point (posting took longer on a busy machine: more)
    assert 2 <= len(updates) <= math.ceil(posting) + 2, (posting, updates)
    # a second apart (an update's timestamp is taken after its reads, which take longer
    # or shorter on a busy machine; uncoalesced, updates would come 0.1 s apart)
    times = [datetime.fromisoformat(u["timestamp"]).timestamp() for u in updates]
    assert all(later - earlier >= 0.75 for earlier, later in itertools.pairwise(times)), times
    assert updates[-1]["widgets"][0]["data"]["value"] == 8.0
    await ws.close()


async def test_live_updates_are_tenant_scoped(
    app: Starlette, base: str, gql: GraphQLClient, make_key: MakeKey
) -> None:
    assert gql.key is not None
    other_key = await make_key("globex", "ingest,read,write")
    board = await create(gql, "acme's", COMPONENTS)
    mine = await open_ws(base, gql.key)
    listening = app.state.gateway.services.hub.active
    await mine.subscribe(UPDATES, {"id": board["id"]})

    intruder = await open_ws(base, other_key)
    await intruder.subscribe(UPDATES, {"id": board["id"]})
    assert _error_code(await intruder.receive()) == "NOT_FOUND"

    await until_listening(app.state.gateway.services.hub, listening + 2)
    # the same metric name in another tenant neither wakes nor feeds acme's dashboard
    await post_points(base, other_key, [{"name": "revenue", "value": 1000.0}])
    await _no_message(mine, 1.5)
    await post_points(base, gql.key, [{"name": "revenue", "value": 3.0}])
    assert _widgets(await mine.next_data(timeout=5))["revenue"]["value"] == 3.0
    await mine.close()
    await intruder.close()


async def test_a_new_version_resends_every_widget_and_deletion_ends_the_stream(
    app: Starlette, base: str, gql: GraphQLClient
) -> None:
    assert gql.key is not None
    board = await create(gql, "edit", COMPONENTS)
    ws = await open_ws(base, gql.key)
    listening = app.state.gateway.services.hub.active
    await ws.subscribe(UPDATES, {"id": board["id"]})
    await until_listening(app.state.gateway.services.hub, listening + 2)  # revenue and cpu_usage
    body = await gql.execute(
        """mutation($id: ID!, $input: DashboardInput!) {
             updateDashboard(id: $id, version: 1, input: $input) { version } }""",
        {"id": board["id"], "input": {"name": "edit", "widgets": COMPONENTS}},
    )
    assert body["data"]["updateDashboard"]["version"] == 2
    await post_points(base, gql.key, [{"name": "revenue", "value": 5.0}])
    message = await ws.next_data(timeout=5)
    assert message["payload"]["data"]["dashboardUpdates"]["version"] == 2
    assert set(_widgets(message)) == {"revenue", "cpu"}

    await gql.execute("mutation($id: ID!) { deleteDashboard(id: $id) }", {"id": board["id"]})
    await asyncio.sleep(1.1)
    await post_points(base, gql.key, [{"name": "revenue", "value": 5.0}])
    assert _error_code(await ws.receive(timeout=5)) == "NOT_FOUND"
    await ws.close()
