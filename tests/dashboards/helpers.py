"""Data and queries shared by the dashboard tests."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import GraphQLClient

MINUTE = 60_000

WIDGET_DATA = """
data {
  __typename
  ... on ChartData { style series { name labels data } }
  ... on KpiData { value previous change sparkline }
  ... on HeatmapData { rowLabels timestamps values }
  ... on TableData { rows { labels summary { count last } } }
  ... on AlertsData { alerts { name severity state } }
  ... on AnomaliesData {
    detector series { labels data } anomalies { labels timestamp value score }
  }
  ... on ForecastData { model history { data } forecast { data } lower upper }
  ... on PanelData { kind available message }
}
"""

DASHBOARD = (
    """
query($id: ID!, $range: String, $vars: JSON) {
  dashboard(id: $id, timeRange: $range, variables: $vars) {
    id name version timeRange layout
    variables { name label default value options }
    widgets { id type title position { x y w h } query { kind name formula labels }
"""
    + WIDGET_DATA
    + "} } }"
)

CREATE_CUSTOM = """
mutation($name: String!, $components: [WidgetInput!]!, $variables: [DashboardVariableInput!]) {
  createCustomDashboard(name: $name, layout: GRID, components: $components,
                        variables: $variables) {
    id version widgets { id type title }
  }
}
"""

INGEST = """
mutation($points: [MetricPointInput!]!) { ingestMetrics(points: $points) { accepted } }
"""
RECORD = """
mutation($events: [EventInput!]!) { recordEvents(events: $events) { accepted } }
"""


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def now_ms() -> int:
    return int(time.time() * 1000)


async def ingest(gql: GraphQLClient, points: list[dict[str, Any]]) -> None:
    body = await gql.execute(INGEST, {"points": points})
    assert "errors" not in body, body
    assert body["data"]["ingestMetrics"]["accepted"] == len(points)


async def seed_business(gql: GraphQLClient, scale: float = 1.0) -> int:
    """Ten minutes of revenue, active users, song plays per country and CPU per host.

    Returns the start of the first minute written. Values are exact so tests can
    compute what each widget must show.
    """
    start = (now_ms() - 12 * MINUTE) // MINUTE * MINUTE
    points: list[dict[str, Any]] = []
    for i in range(10):
        ts = iso(start + i * MINUTE + 1000)
        points += [
            {"name": "revenue", "value": 10.0 * scale, "timestamp": ts},
            {"name": "active_users", "value": 100.0 * scale + i, "timestamp": ts},
            {"name": "song_plays", "value": 3.0 * scale, "labels": {"country": "DE"},
             "timestamp": ts},
            {"name": "song_plays", "value": 5.0 * scale, "labels": {"country": "US"},
             "timestamp": ts},
            {"name": "cpu_usage", "value": 40.0 + i, "labels": {"host": "web-1"}, "timestamp": ts},
        ]  # fmt: skip
    await ingest(gql, points)
    events = [
        {"type": "song_play", "userId": f"u{i}", "timestamp": iso(start + i * MINUTE + 2000),
         "metadata": {"country": "DE" if i % 2 else "US"}}
        for i in range(10)
    ]  # fmt: skip
    body = await gql.execute(RECORD, {"events": events})
    assert body["data"]["recordEvents"]["accepted"] == 10, body
    return start


async def create(
    gql: GraphQLClient,
    name: str,
    components: list[dict[str, Any]],
    variables: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body = await gql.execute(
        CREATE_CUSTOM, {"name": name, "components": components, "variables": variables}
    )
    assert "errors" not in body, body
    created: dict[str, Any] = body["data"]["createCustomDashboard"]
    return created


async def read(
    gql: GraphQLClient, dashboard_id: str, range_: str | None = None, **variables: str
) -> dict[str, Any]:
    body = await gql.execute(
        DASHBOARD, {"id": dashboard_id, "range": range_, "vars": variables or None}
    )
    assert "errors" not in body, body
    dashboard: dict[str, Any] = body["data"]["dashboard"]
    return dashboard


def by_title(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["title"]: w for w in dashboard["widgets"]}
