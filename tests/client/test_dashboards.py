"""The brief's realtime and custom dashboards through the client, read with their data."""

from __future__ import annotations

import pytest
from analytics_gateway_client import (
    PRESETS,
    AnalyticsClient,
    DashboardLayout,
    Forbidden,
    WidgetInput,
    WidgetType,
)


async def test_a_realtime_dashboard_from_the_brief_presets(acme: AnalyticsClient) -> None:
    dashboard = await acme.dashboards.create_realtime_dashboard(
        tenant_id="acme", widgets=["system_health", "user_activity", "revenue"]
    )
    assert dashboard.name == "Realtime: system health, user activity, revenue"
    assert dashboard.layout is DashboardLayout.GRID
    assert len(dashboard.widgets) == 12
    assert {w.type_ for w in dashboard.widgets} == {
        WidgetType.KPI,
        WidgetType.CHART,
        WidgetType.HEATMAP,
    }
    assert "system_health" in PRESETS

    with pytest.raises(Forbidden) as refused:
        await acme.dashboards.create_realtime_dashboard(["revenue"], tenant_id="globex")
    assert refused.value.code == "FORBIDDEN"


async def test_the_brief_custom_dashboard_reads_its_data(acme: AnalyticsClient) -> None:
    await acme.metrics.collect_business_metrics(revenue=1250.5, active_users=18200)
    await acme.metrics.collect_app_metrics(event_type="song_play", user_id="u-1", country="DE")
    dashboard = await acme.dashboards.create_custom_dashboard(
        name="Executive Dashboard",
        layout="grid",
        components=[
            {"type": "chart", "data": "daily_revenue"},
            {"type": "kpi", "metric": "active_users"},
            {"type": "heatmap", "data": "user_activity"},
        ],
    )
    assert dashboard.name == "Executive Dashboard"
    assert [(w.type_, w.title) for w in dashboard.widgets] == [
        (WidgetType.CHART, "Daily revenue"),
        (WidgetType.KPI, "Active users"),
        (WidgetType.HEATMAP, "Listening activity by country"),
    ]

    view = await acme.dashboards.get(dashboard.id, time_range="1h")
    chart, kpi, heatmap = (w.data for w in view.widgets)
    assert chart is not None
    assert chart.typename__ == "ChartData"
    assert [s.data.v for s in chart.series] == [[1250.5]]
    assert kpi is not None
    assert kpi.typename__ == "KpiData"
    assert kpi.value == 18200
    assert heatmap is not None
    assert heatmap.typename__ == "HeatmapData"
    assert heatmap.row_labels == ["DE"]
    assert [d.id for d in await acme.dashboards.dashboards()] == [dashboard.id]


async def test_components_may_be_typed_inputs_and_full_queries(acme: AnalyticsClient) -> None:
    await acme.metrics.collect_system_metrics({"cpu_usage": 40.0}, labels={"host": "web-1"})
    dashboard = await acme.dashboards.create_custom_dashboard(
        "Ops",
        [
            WidgetInput(type=WidgetType.KPI, title="CPU", metric="cpu_usage"),
            {
                "type": "table",
                "title": "CPU by host",
                "query": {"name": "cpu_usage", "aggregation": "max", "group_by": ["host"]},
            },
        ],
        time_range="6h",
    )
    assert dashboard.time_range == "6h"
    view = await acme.dashboards.get(dashboard.id)
    kpi, table = (w.data for w in view.widgets)
    assert kpi is not None
    assert kpi.typename__ == "KpiData"
    assert kpi.value == 40.0
    assert table is not None
    assert table.typename__ == "TableData"
    assert [(r.labels, r.summary.last) for r in table.rows] == [({"host": "web-1"}, 40.0)]

    with pytest.raises(ValueError, match="no field 'colour'"):
        await acme.dashboards.create_custom_dashboard("Bad", [{"type": "kpi", "colour": "red"}])
    assert await acme.dashboards.delete(dashboard.id) is True
