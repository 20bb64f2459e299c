"""Public names for the generated result models (each a pydantic model, fields in snake_case).

The generator names models after the operation and the path to them
(`MetricsMetrics`); these are the names the client's methods promise.
"""

from __future__ import annotations

from analytics_gateway_client.generated.alert import AlertAlert
from analytics_gateway_client.generated.anomalies import AnomaliesAnomalies
from analytics_gateway_client.generated.dashboard import DashboardDashboard
from analytics_gateway_client.generated.dashboard_updates import DashboardUpdatesDashboardUpdates
from analytics_gateway_client.generated.dashboards import DashboardsDashboards
from analytics_gateway_client.generated.events import EventsEvents
from analytics_gateway_client.generated.fragments import (
    AlertEventFields,
    AlertFields,
    AnomalyReportFields,
    ChannelFields,
    DashboardFields,
    EventFields,
    ForecastFields,
    IngestResultFields,
    ModelFields,
    SeriesFields,
)
from analytics_gateway_client.generated.live_events import LiveEventsLiveEvents
from analytics_gateway_client.generated.metric_points import MetricPointsMetricPoints

IngestResult = IngestResultFields
"""What a write stored (`accepted`) and what it refused (`rejected`, by index)."""
Series = SeriesFields
"""A metric series: name, labels, `data` (columns) and `summary`."""
Event = EventFields
"""An application event."""
EventPage = EventsEvents
"""A page of events, newest first: `edges` (cursor and node) and `page_info`."""
Alert = AlertFields
"""An alert rule with its current state."""
AlertDetail = AlertAlert
"""An alert rule with its series (`instances`) and recent `history`."""
AlertEvent = AlertEventFields
"""A state change of an alert, or a notification of its group."""
Channel = ChannelFields
"""A notification channel (or action)."""
Dashboard = DashboardFields
"""A dashboard's definition: widgets with their queries, no data."""
DashboardSummary = DashboardsDashboards
"""A dashboard as listed: id, name, version."""
DashboardView = DashboardDashboard
"""A dashboard with every widget's data for the chosen range."""
DashboardUpdate = DashboardUpdatesDashboardUpdates
"""Widgets of a dashboard with new data."""
AnomalyReport = AnomalyReportFields
"""Anomalies of one series: scores in [0, 1], the threshold, the anomalous points."""
Forecast = ForecastFields
"""A forecast of one series with its prediction interval, as columns."""
Model = ModelFields
"""A trained model (ANOMALY or FORECAST)."""
MetricPoint = MetricPointsMetricPoints
"""A metric point as it was ingested, delivered live."""
LiveEvent = LiveEventsLiveEvents
"""An application event delivered live, with its stream cursor."""
AnomalyEvent = AnomaliesAnomalies
"""An anomaly a trained model raised on a new point, delivered live."""

__all__ = [
    "Alert",
    "AlertDetail",
    "AlertEvent",
    "AnomalyEvent",
    "AnomalyReport",
    "Channel",
    "Dashboard",
    "DashboardSummary",
    "DashboardUpdate",
    "DashboardView",
    "Event",
    "EventPage",
    "Forecast",
    "IngestResult",
    "LiveEvent",
    "MetricPoint",
    "Model",
    "Series",
]
