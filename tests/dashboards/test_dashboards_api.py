"""Dashboards over GraphQL: the brief's calls, widget data, variables, versions, batching."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette

from analytics_gateway.backends.duckdb_store import DuckDBStore
from tests.conftest import GraphQLClient, backend_calls
from tests.dashboards.helpers import (
    DASHBOARD,
    MINUTE,
    by_title,
    create,
    ingest,
    iso,
    now_ms,
    read,
    seed_business,
)

BRIEF_COMPONENTS = [
    {"type": "CHART", "data": "daily_revenue"},
    {"type": "KPI", "metric": "active_users"},
    {"type": "HEATMAP", "data": "user_activity"},
]


async def test_custom_dashboard_of_the_brief_shows_its_data(gql: GraphQLClient) -> None:
    await seed_business(gql)
    created = await create(gql, "Executive Dashboard", BRIEF_COMPONENTS)
    assert created["version"] == 1
    assert [w["type"] for w in created["widgets"]] == ["CHART", "KPI", "HEATMAP"]

    dashboard = await read(gql, created["id"])
    assert dashboard["name"] == "Executive Dashboard"
    assert dashboard["layout"] == "GRID"
    chart, kpi, heatmap = (w["data"] for w in dashboard["widgets"])
    assert chart["__typename"] == "ChartData"
    [revenue] = chart["series"]
    assert sum(revenue["data"]["v"]) == pytest.approx(100.0)  # 10 points of 10, daily sums
    assert kpi["__typename"] == "KpiData"
    assert kpi["value"] == 109.0  # the latest bucket of active_users
    assert kpi["previous"] is None  # nothing in the hour before
    assert kpi["change"] is None
    assert kpi["sparkline"]["v"][0] == 100.0
    assert len(kpi["sparkline"]["v"]) == 10
    assert heatmap["__typename"] == "HeatmapData"
    assert heatmap["rowLabels"] == ["DE", "US"]
    totals = [sum(v for v in row if v is not None) for row in heatmap["values"]]
    assert totals == [5.0, 5.0]
    assert len(heatmap["timestamps"]) == len(heatmap["values"][0])
    positions = [w["position"] for w in dashboard["widgets"]]
    assert positions[0] == {"x": 0, "y": 0, "w": 6, "h": 4}
    assert positions[1] == {"x": 6, "y": 0, "w": 3, "h": 2}


async def test_kpi_formula_total_and_change_against_the_previous_period(
    gql: GraphQLClient,
) -> None:
    await seed_business(gql)
    now = now_ms()
    # orders: 30 in the last hour, 50 in the hour before (change -40%)
    await ingest(
        gql,
        [
            {"name": "orders", "value": 10.0, "timestamp": iso(now - m * MINUTE)}
            for m in (20, 30, 40)
        ]
        + [{"name": "orders", "value": 25.0, "timestamp": iso(now - m * MINUTE)} for m in (80, 90)],
    )
    created = await create(
        gql,
        "KPIs",
        [
            {"type": "KPI", "title": "per user", "formula": "revenue / active_users",
             "aggregation": "LAST"},
            {"type": "KPI", "title": "total", "metric": "revenue", "aggregation": "SUM"},
            {"type": "KPI", "title": "double", "formula": "2 * (revenue + 0.5) - -1"},
            {"type": "KPI", "title": "orders", "metric": "orders", "aggregation": "SUM"},
        ],
    )  # fmt: skip
    widgets = by_title(await read(gql, created["id"]))
    assert widgets["per user"]["data"]["value"] == pytest.approx(10 / 109)
    assert widgets["per user"]["data"]["sparkline"]["v"][0] == pytest.approx(10 / 100)
    assert widgets["total"]["data"]["value"] == pytest.approx(100.0)
    assert widgets["double"]["data"]["value"] == pytest.approx(2 * 10.5 + 1)
    orders = widgets["orders"]["data"]
    assert orders["value"] == pytest.approx(30.0)
    assert orders["previous"] == pytest.approx(50.0)
    assert orders["change"] == pytest.approx(-0.4)


async def test_variables_are_substituted_into_every_widget(gql: GraphQLClient) -> None:
    await seed_business(gql)
    created = await create(
        gql,
        "By country",
        [
            {"type": "CHART", "title": "plays", "metric": "song_plays", "aggregation": "SUM",
             "groupBy": ["country"], "labels": {"country": "$country"}},
            {"type": "TABLE", "title": "table", "metric": "song_plays", "aggregation": "SUM",
             "groupBy": ["country"], "labels": {"country": "${country}"}},
            {"type": "KPI", "title": "kpi", "formula": 'song_plays{country="$country"}',
             "aggregation": "SUM"},
        ],
        variables=[{"name": "country", "label": "Country", "optionsMetric": "song_plays",
                    "optionsLabel": "country"}],
    )  # fmt: skip
    everything = await read(gql, created["id"])
    [variable] = everything["variables"]
    assert variable == {
        "name": "country",
        "label": "Country",
        "default": "",
        "value": "",
        "options": ["DE", "US"],
    }
    widgets = by_title(everything)
    assert [s["labels"] for s in widgets["plays"]["data"]["series"]] == [
        {"country": "DE"},
        {"country": "US"},
    ]
    assert widgets["kpi"]["data"]["value"] == pytest.approx(80.0)

    germany = by_title(await read(gql, created["id"], country="DE"))
    assert [s["labels"] for s in germany["plays"]["data"]["series"]] == [{"country": "DE"}]
    assert [r["labels"] for r in germany["table"]["data"]["rows"]] == [{"country": "DE"}]
    assert germany["table"]["data"]["rows"][0]["summary"]["count"] == 10
    assert germany["kpi"]["data"]["value"] == pytest.approx(30.0)

    unknown = await gql.execute(
        'query($id: ID!) { dashboard(id: $id, variables: {nope: "x"}) { id } }',
        {"id": created["id"]},
    )
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_undeclared_variables_and_bad_components_are_refused(gql: GraphQLClient) -> None:
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([{"type": "CHART", "metric": "cpu", "labels": {"host": "$host"}}], "undeclared"),
        ([{"type": "KPI", "formula": "revenue / (active_users"}], "unexpected end"),
        ([{"type": "KPI", "formula": "__import__('os')"}], "formula"),
        ([{"type": "CHART", "metric": "a", "data": "b"}], "not data and metric"),
        ([{"type": "CHART"}], "needs a query"),
        ([{"type": "HEATMAP", "formula": "a / b"}], "cannot show a FORMULA"),
        ([{"type": "KPI", "metric": "x", "position": {"x": 10, "y": 0, "w": 6, "h": 2}}], "x + w"),
    ]
    for components, message in cases:
        body = await gql.execute(
            'mutation($c: [WidgetInput!]!) { createCustomDashboard(name: "x", components: $c)'
            " { id } }",
            {"c": components},
        )
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (components, error)
        assert message in error["message"], (components, error)
    assert (await gql.execute("{ dashboards { id } }"))["data"]["dashboards"] == []


async def test_realtime_dashboard_from_presets(gql: GraphQLClient) -> None:
    await seed_business(gql)
    body = await gql.execute(
        'mutation { createRealtimeDashboard(widgets: ["system_health", "user_activity", '
        '"revenue"]) { id name widgets { type title } } }'
    )
    created = body["data"]["createRealtimeDashboard"]
    assert created["name"] == "Realtime: system health, user activity, revenue"
    assert len(created["widgets"]) == 12
    widgets = by_title(await read(gql, created["id"]))
    assert widgets["Active users"]["data"]["value"] == 109.0
    assert widgets["Plays"]["data"]["value"] == 10.0  # song_play events in the hour
    assert widgets["CPU by host"]["data"]["series"][0]["labels"] == {"host": "web-1"}

    bad = await gql.execute('mutation { createRealtimeDashboard(widgets: ["nope"]) { id } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "system_health" in bad["errors"][0]["message"]


async def test_panels_show_alerts_anomalies_and_a_forecast(gql: GraphQLClient) -> None:
    step = 30_000
    end = now_ms() // step * step
    rng = random.Random(3)
    points: list[dict[str, Any]] = []
    for i in range(590):  # five hours: the panel's hour, and the history detection learns from
        ts = iso(end - (590 - i) * step + 1000)
        cpu = 200.0 if i == 560 else 50.0 + rng.gauss(0, 1)
        points.append({"name": "cpu_usage", "value": cpu, "labels": {"host": "a"}, "timestamp": ts})
        if i >= 470:  # an hour of revenue
            revenue = 100.0 + 20 * math.sin(2 * math.pi * i / 24) + rng.gauss(0, 1)
            points.append({"name": "revenue", "value": revenue, "timestamp": ts})
    await ingest(gql, points)
    rule = await gql.execute(
        'mutation { createAlert(input: {name: "CPU high", condition: "cpu_usage > 90", '
        "severity: CRITICAL}) { id } }"
    )
    assert "errors" not in rule, rule

    created = await create(
        gql,
        "Panels",
        [
            {"type": "ALERTS", "title": "alerts"},
            {"type": "ANOMALIES", "title": "anomalies", "metric": "cpu_usage"},
            {"type": "FORECAST", "title": "forecast", "metric": "revenue"},
            {"type": "FORECAST", "title": "no metric"},
        ],
    )
    widgets = by_title(await read(gql, created["id"], "1h"))

    alerts = widgets["alerts"]["data"]
    assert alerts["__typename"] == "AlertsData"
    assert alerts["alerts"] == [{"name": "CPU high", "severity": "CRITICAL", "state": "INACTIVE"}]

    anomalies = widgets["anomalies"]["data"]
    assert anomalies["__typename"] == "AnomaliesData"
    [shown] = anomalies["series"]
    assert shown["labels"] == {"host": "a"}
    assert 110 <= len(shown["data"]["t"]) <= 121  # the hour shown, not the history read
    spike = [a for a in anomalies["anomalies"] if a["value"] == 200.0]
    assert len(spike) == 1
    assert spike[0]["labels"] == {"host": "a"}
    assert all(a["value"] > 80 for a in anomalies["anomalies"])  # the normal points stay quiet

    forecast = widgets["forecast"]["data"]
    assert forecast["__typename"] == "ForecastData"
    history, ahead = forecast["history"]["data"], forecast["forecast"]["data"]
    assert len(ahead["t"]) == len(history["t"]) // 4
    assert min(ahead["t"]) > max(history["t"])
    assert all(
        lo <= v <= hi
        for lo, v, hi in zip(
            forecast["lower"]["v"], ahead["v"], forecast["upper"]["v"], strict=True
        )
    )
    assert 60 < sum(ahead["v"]) / len(ahead["v"]) < 140

    empty = widgets["no metric"]["data"]
    assert (empty["__typename"], empty["kind"], empty["available"]) == (
        "PanelData",
        "FORECAST",
        False,
    )
    assert "Give this widget a metric" in empty["message"]


UPDATE = """
mutation($id: ID!, $version: Int!, $input: DashboardInput!) {
  updateDashboard(id: $id, version: $version, input: $input) { id version name }
}
"""


async def test_versions_and_stale_edits_conflict(gql: GraphQLClient) -> None:
    created = await create(gql, "v", [{"type": "KPI", "metric": "revenue"}])
    dashboard_id = created["id"]
    first = {"name": "first edit", "widgets": [{"type": "KPI", "metric": "revenue"}]}
    body = await gql.execute(UPDATE, {"id": dashboard_id, "version": 1, "input": first})
    assert body["data"]["updateDashboard"] == {
        "id": dashboard_id,
        "version": 2,
        "name": "first edit",
    }

    stale = {"name": "lost edit", "widgets": []}
    body = await gql.execute(UPDATE, {"id": dashboard_id, "version": 1, "input": stale})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["current_version"] == 2
    assert (await read(gql, dashboard_id))["name"] == "first edit"

    missing = await gql.execute(UPDATE, {"id": "nope", "version": 1, "input": first})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    deleted = await gql.execute("mutation($id: ID!) { deleteDashboard(id: $id) }",
                                {"id": dashboard_id})  # fmt: skip
    assert deleted["data"]["deleteDashboard"] is True
    gone = await gql.execute("query($id: ID!) { dashboard(id: $id) { id } }", {"id": dashboard_id})
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"


TWELVE: list[dict[str, Any]] = [
    {"type": "KPI", "metric": "active_users", "aggregation": "LAST"},
    {"type": "KPI", "metric": "revenue", "aggregation": "SUM"},
    {"type": "KPI", "formula": "revenue / active_users"},
    {"type": "KPI", "events": {"type": "song_play"}},
    {"type": "CHART", "metric": "song_plays", "aggregation": "SUM", "groupBy": ["country"]},
    {"type": "CHART", "metric": "cpu_usage", "groupBy": ["host"], "style": "AREA"},
    {"type": "CHART", "data": "daily_revenue"},
    {"type": "CHART", "events": {"type": "song_play", "groupBy": "country"}},
    {"type": "HEATMAP", "data": "user_activity"},
    {"type": "HEATMAP", "metric": "song_plays", "groupBy": ["country"]},
    {"type": "TABLE", "metric": "cpu_usage", "groupBy": ["host"]},
    {"type": "TABLE", "query": {"name": "revenue", "last": "30m", "step": "5m"}},
]


def _count_calls(store: Any, method: str, calls: Counter[str]) -> None:
    """Count calls of one store method on this instance; the real method still runs."""
    real: Callable[..., Any] = getattr(store, method)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls[method] += 1
        return await real(*args, **kwargs)

    setattr(store, method, counted)


async def test_twelve_widgets_load_with_one_call_per_backend(
    gql: GraphQLClient, app: Starlette
) -> None:
    await seed_business(gql)
    created = await create(gql, "Twelve", TWELVE)
    backends = app.state.gateway.services.backends
    calls: Counter[str] = Counter()
    _count_calls(backends.metrics, "read_if_light", calls)
    _count_calls(backends.events, "count_events_many", calls)
    registry = app.state.gateway.metrics.registry
    before = backend_calls(registry)
    series_counted = backend_calls(registry, operation="series_count")

    dashboard = await read(gql, created["id"])

    assert [w["data"]["__typename"] for w in dashboard["widgets"]] == (
        ["KpiData"] * 4 + ["ChartData"] * 4 + ["HeatmapData"] * 2 + ["TableData"] * 2
    )
    assert all(w["data"] is not None for w in dashboard["widgets"])
    assert calls == Counter({"read_if_light": 1, "count_events_many": 1})
    # a light read: one statement each on a shared DuckDB file, the metric queries'
    # series counted in the same call; one request to each server, and one before the
    # metric queries to know their cost
    in_the_read = isinstance(backends.metrics, DuckDBStore)
    assert backend_calls(registry) - before == (2 if in_the_read else 3)
    assert backend_calls(registry, operation="series_count") - series_counted == (not in_the_read)
    assert dashboard["widgets"][3]["title"] == "song_play events"
    assert dashboard["widgets"][3]["data"]["value"] == 10.0


async def test_variable_options_of_a_dashboard_are_one_store_call(
    gql: GraphQLClient, app: Starlette
) -> None:
    await seed_business(gql)
    created = await create(
        gql,
        "Pickers",
        [{"type": "CHART", "metric": "cpu_usage", "groupBy": ["host"]}],
        variables=[
            {"name": "country", "optionsMetric": "song_plays", "optionsLabel": "country"},
            {"name": "host", "optionsMetric": "cpu_usage", "optionsLabel": "host"},
            {"name": "fixed", "options": ["a", "b"]},
        ],
    )
    calls: Counter[str] = Counter()
    store = app.state.gateway.services.backends.metrics
    _count_calls(store, "label_values_many", calls)
    _count_calls(store, "label_values", calls)
    registry = app.state.gateway.metrics.registry
    before = backend_calls(registry, operation="label_values")

    dashboard = await read(gql, created["id"])

    assert {v["name"]: v["options"] for v in dashboard["variables"]} == {
        "country": ["DE", "US"],
        "host": ["web-1"],
        "fixed": ["a", "b"],
    }
    assert calls == Counter({"label_values_many": 1})
    assert backend_calls(registry, operation="label_values") - before == 1


async def test_one_widget_failing_leaves_the_others_answered(gql: GraphQLClient) -> None:
    """A widget on the Prometheus source, with none configured, fails alone."""
    await seed_business(gql)
    created = await create(
        gql,
        "Partial",
        [
            {"type": "KPI", "metric": "revenue", "aggregation": "SUM"},
            {"type": "CHART", "query": {"name": "up", "source": "PROMETHEUS"}},
        ],
    )
    body = await gql.execute(DASHBOARD, {"id": created["id"]})
    kpi, chart = body["data"]["dashboard"]["widgets"]
    assert kpi["data"]["value"] == 100.0
    assert chart["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "PROMETHEUS" in error["message"]
    assert error["path"] == ["dashboard", "widgets", 1, "data"]
