"""Units and thresholds saved with a dashboard, over GraphQL and REST, and variables'
option sources in the GraphQL read shape."""

from __future__ import annotations

from typing import Any

import httpx

from analytics_gateway.dashboards.model import Position, Threshold, Widget, WidgetType
from tests.conftest import GraphQLClient
from tests.dashboards.helpers import create

SETTINGS = """
query($id: ID!) {
  dashboard(id: $id) {
    version
    variables { name optionsMetric optionsLabel options }
    widgets { id unit thresholds { value color } }
  }
}
"""
UPDATE = """
mutation($id: ID!, $version: Int!, $input: DashboardInput!) {
  updateDashboard(id: $id, version: $version, input: $input) {
    version widgets { id unit thresholds { value color } }
  }
}
"""
ERROR_RATE = {
    "type": "KPI",
    "id": "errors",
    "metric": "error_rate",
    "unit": "PERCENT",
    "thresholds": [{"value": 0, "color": "green"}, {"value": 0.05, "color": "red"}],
}


async def _settings(gql: GraphQLClient, dashboard_id: str) -> dict[str, Any]:
    body = await gql.execute(SETTINGS, {"id": dashboard_id})
    assert "errors" not in body, body
    dashboard: dict[str, Any] = body["data"]["dashboard"]
    return dashboard


def _refusal(body: dict[str, Any]) -> tuple[str, str]:
    extensions = body["errors"][0]["extensions"]
    return extensions["code"], extensions["field"]


async def test_unit_and_thresholds_are_saved_and_changed_with_the_dashboard(
    gql: GraphQLClient,
) -> None:
    board = await create(
        gql,
        "panel settings",
        [ERROR_RATE, {"type": "CHART", "id": "cpu", "metric": "cpu_usage"}],
        variables=[{"name": "host", "optionsMetric": "cpu_usage", "optionsLabel": "host"}],
    )
    read = await _settings(gql, board["id"])
    assert read["widgets"] == [
        {
            "id": "errors",
            "unit": "PERCENT",
            "thresholds": [{"value": 0.0, "color": "green"}, {"value": 0.05, "color": "red"}],
        },
        {"id": "cpu", "unit": None, "thresholds": []},  # unset: detected in the UI
    ]
    assert read["variables"] == [
        {"name": "host", "optionsMetric": "cpu_usage", "optionsLabel": "host", "options": []}
    ]

    changed = {
        "name": "panel settings",
        "widgets": [
            {**ERROR_RATE, "unit": None, "thresholds": []},
            {"type": "CHART", "id": "cpu", "metric": "cpu_usage", "unit": "MS",
             "thresholds": [{"value": 80, "color": "orange"}]},
        ],
    }  # fmt: skip
    body = await gql.execute(UPDATE, {"id": board["id"], "version": 1, "input": changed})
    assert "errors" not in body, body
    assert body["data"]["updateDashboard"]["widgets"] == [
        {"id": "errors", "unit": None, "thresholds": []},
        {"id": "cpu", "unit": "MS", "thresholds": [{"value": 80.0, "color": "orange"}]},
    ]
    assert (await _settings(gql, board["id"]))["widgets"][1]["unit"] == "MS"


async def test_thresholds_outside_the_palette_or_repeated_are_refused(gql: GraphQLClient) -> None:
    for thresholds in (
        [{"value": 1, "color": "purple"}],
        [{"value": 1, "color": "red"}, {"value": 1, "color": "green"}],
        [{"value": i, "color": "blue"} for i in range(11)],
    ):
        body = await gql.execute(
            """mutation($c: [WidgetInput!]!) {
                 createCustomDashboard(name: "x", components: $c) { id } }""",
            {"c": [{**ERROR_RATE, "thresholds": thresholds}]},
        )
        assert _refusal(body) == ("BAD_USER_INPUT", "thresholds"), body
    assert (await gql.execute("{ dashboards { id } }"))["data"]["dashboards"] == []


async def test_rest_shapes_carry_unit_and_thresholds_and_round_trip(
    gql: GraphQLClient, client: httpx.AsyncClient
) -> None:
    headers = {"Authorization": f"Bearer {gql.key}"}
    body = {
        "name": "rest settings",
        "components": [
            {"type": "kpi", "id": "errors", "metric": "error_rate", "unit": "percent",
             "thresholds": [{"value": 0.05, "color": "red"}, {"value": 0, "color": "green"}]},
            {"type": "chart", "id": "cpu", "metric": "cpu_usage"},
        ],
    }  # fmt: skip
    created = await client.post("/analytics/dashboards", json=body, headers=headers)
    assert created.status_code == 201, created.text
    widgets = created.json()["widgets"]
    assert widgets[0]["unit"] == "percent"
    # kept in the order given
    assert widgets[0]["thresholds"] == [
        {"value": 0.05, "color": "red"},
        {"value": 0.0, "color": "green"},
    ]
    assert (widgets[1]["unit"], widgets[1]["thresholds"]) == (None, [])

    # what GET returns, posted back, is the same dashboard (settings included)
    got = await client.get(f"/analytics/dashboards/{created.json()['id']}", headers=headers)
    copied = await client.post("/analytics/dashboards", json=got.json(), headers=headers)
    assert copied.status_code == 201, copied.text
    assert copied.json()["widgets"] == widgets
    read = await _settings(gql, copied.json()["id"])
    assert read["widgets"][0]["unit"] == "PERCENT"

    refusals = {
        "unit": {**body, "components": [{"type": "kpi", "metric": "x", "unit": "furlongs"}]},
        "thresholds": {**body, "components": [{"type": "kpi", "metric": "x", "thresholds": 3}]},
    }
    for field, refused in refusals.items():
        answer = await client.post("/analytics/dashboards", json=refused, headers=headers)
        assert answer.status_code == 400, answer.text
        assert _refusal(answer.json()) == ("BAD_USER_INPUT", field)
    bad_colour = got.json()
    bad_colour["widgets"][0]["thresholds"] = [{"value": 1, "color": "mauve"}]
    answer = await client.post("/analytics/dashboards", json=bad_colour, headers=headers)
    assert answer.status_code == 400, answer.text
    assert _refusal(answer.json()) == ("BAD_USER_INPUT", "thresholds")


def test_stored_widgets_without_settings_still_load() -> None:
    widget = Widget(
        "w1", WidgetType.KPI, "errors", Position(0, 0, 3, 2), unit="percent",
        thresholds=(Threshold(0.05, "red"),),
    )  # fmt: skip
    assert Widget.from_document(widget.as_document()) == widget
    older = {k: v for k, v in widget.as_document().items() if k not in {"unit", "thresholds"}}
    assert Widget.from_document(older) == Widget(
        "w1", WidgetType.KPI, "errors", Position(0, 0, 3, 2)
    )
