"""Dashboards read over an absolute range (`from`/`to`), over GraphQL, its live
subscription and REST, and the refusals of a range that cannot be read."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import GraphQLClient, open_ws, post_points
from tests.dashboards.helpers import MINUTE, WIDGET_DATA, create, iso, now_ms, seed_business

ABSOLUTE = (
    """
query($id: ID!, $from: DateTime, $to: DateTime, $range: String) {
  dashboard(id: $id, from: $from, to: $to, timeRange: $range) {
    widgets { id
"""
    + WIDGET_DATA
    + "} } }"
)
UPDATES = """subscription($id: ID!, $from: DateTime, $to: DateTime) {
  dashboardUpdates(id: $id, from: $from, to: $to) {
    widgets { widgetId data { __typename ... on KpiData { value } } }
  }
}"""
COMPONENTS: list[dict[str, Any]] = [
    {"type": "KPI", "id": "revenue", "metric": "revenue", "aggregation": "SUM"},
    {"type": "CHART", "id": "users", "metric": "active_users", "step": "1m"},
]


async def _read(gql: GraphQLClient, **variables: Any) -> dict[str, Any]:
    body = await gql.execute(ABSOLUTE, variables)
    assert "errors" not in body, body
    return {w["id"]: w["data"] for w in body["data"]["dashboard"]["widgets"]}


async def test_from_and_to_choose_the_range_every_widget_reads(gql: GraphQLClient) -> None:
    start = await seed_business(gql)  # one revenue point of 10 per minute, ten minutes
    board = await create(gql, "absolute", COMPONENTS)

    relative = await _read(gql, id=board["id"], range="1h")
    assert relative["revenue"]["value"] == pytest.approx(100.0)

    # the first five minutes only: five points, and the chart stays inside them
    end = start + 5 * MINUTE
    widgets = await _read(gql, id=board["id"], **{"from": iso(start), "to": iso(end)})
    assert widgets["revenue"]["value"] == pytest.approx(50.0)
    [series] = widgets["users"]["series"]
    assert series["data"]["t"] == [start + i * MINUTE for i in range(5)]
    assert series["data"]["v"] == [100.0 + i for i in range(5)]
    # the previous period is the five minutes before `from`: nothing was written then
    assert widgets["revenue"]["previous"] is None


async def test_ranges_that_cannot_be_read_are_refused(gql: GraphQLClient) -> None:
    board = await create(gql, "absolute", COMPONENTS)
    now = now_ms()
    year = 367 * 86_400_000
    cases = {
        "from after to": ({"from": iso(now), "to": iso(now - MINUTE)}, "from"),
        "empty": ({"from": iso(now), "to": iso(now)}, "from"),
        "too long": ({"from": iso(now - year), "to": iso(now)}, "from"),
        "from alone": ({"from": iso(now - MINUTE)}, "to"),
        "to alone": ({"to": iso(now)}, "from"),
        "with timeRange": ({"from": iso(now - MINUTE), "to": iso(now), "range": "1h"},
                           "timeRange"),
    }  # fmt: skip
    for name, (variables, field) in cases.items():
        body = await gql.execute(ABSOLUTE, {"id": board["id"], **variables})
        assert body["data"] is None or body["data"]["dashboard"] is None, name
        extensions = body["errors"][0]["extensions"]
        assert (extensions["code"], extensions["field"]) == ("BAD_USER_INPUT", field), name


async def test_rest_reads_an_absolute_range(gql: GraphQLClient, client: httpx.AsyncClient) -> None:
    start = await seed_business(gql)
    board = await create(gql, "absolute", COMPONENTS)
    headers = {"Authorization": f"Bearer {gql.key}"}
    path = f"/analytics/dashboards/{board['id']}"
    params = {"from": iso(start), "to": iso(start + 3 * MINUTE)}
    answer = await client.get(path, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["widgets"][0]["data"]["value"] == pytest.approx(30.0)
    refused = await client.get(
        path, params={"from": "yesterday", "to": iso(start)}, headers=headers
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["field"] == "from"


async def test_the_live_subscription_takes_an_absolute_range(base: str, gql: GraphQLClient) -> None:
    assert gql.key is not None
    board = await create(gql, "absolute live", COMPONENTS)
    now = now_ms()
    ws = await open_ws(base, gql.key)
    await ws.subscribe(UPDATES, {"id": board["id"], "from": iso(now - MINUTE), "to": iso(now)})
    await asyncio.sleep(0.2)
    # a point inside the range shows; the range is fixed, so one written now is outside it
    await post_points(
        base, gql.key, [{"name": "revenue", "value": 7.0, "timestamp": iso(now - 30_000)}]
    )
    message = await ws.next_data(timeout=10)
    [widget] = message["payload"]["data"]["dashboardUpdates"]["widgets"]
    assert widget == {"widgetId": "revenue", "data": {"__typename": "KpiData", "value": 7.0}}
    await post_points(base, gql.key, [{"name": "revenue", "value": 5.0}])
    message = await ws.next_data(timeout=10)
    [widget] = message["payload"]["data"]["dashboardUpdates"]["widgets"]
    assert widget["data"]["value"] == 7.0
    await ws.close()

    bad = await open_ws(base, gql.key)
    await bad.subscribe(UPDATES, {"id": board["id"], "from": iso(now), "to": iso(now - 1)})
    refused = await bad.receive(timeout=10)
    assert refused["type"] in {"next", "error"}, refused
    errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    await bad.close()
