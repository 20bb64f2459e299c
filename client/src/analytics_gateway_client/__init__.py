"""A typed async Python client for the analytics gateway's GraphQL API.

    from analytics_gateway_client import AnalyticsClient

    async with AnalyticsClient("http://127.0.0.1:8000", api_key=KEY) as client:
        await client.metrics.collect_business_metrics(revenue=1250.5, active_users=18200)
        reports = await client.anomalies.detect(["cpu_usage"], window="1h")

`generated` is the typed GraphQL layer made by ariadne-codegen from the gateway's
schema and this package's operations; the rest is the product brief's API over it.
"""

from analytics_gateway_client.alerts import AlertManager
from analytics_gateway_client.client import AnalyticsClient, Viewer
from analytics_gateway_client.dashboards import PRESETS, DashboardManager
from analytics_gateway_client.errors import (
    BackendUnavailable,
    BadUserInput,
    ClientError,
    Conflict,
    Forbidden,
    GatewayError,
    GraphQLErrorDetail,
    NotFound,
    QueryTooComplex,
    QuotaExceeded,
    RateLimited,
    ResyncRequired,
    TransportError,
    Unauthenticated,
)
from analytics_gateway_client.generated.enums import (
    Aggregation,
    AlertState,
    ChannelKind,
    ChartStyle,
    DashboardLayout,
    ModelKind,
    Sensitivity,
    Severity,
    WidgetType,
)
from analytics_gateway_client.generated.input_types import (
    MetricPointInput,
    MetricQuery,
    WidgetInput,
)
from analytics_gateway_client.metrics import MetricsCollector
from analytics_gateway_client.ml import AnomalyDetector, PredictiveAnalytics
from analytics_gateway_client.results import (
    Alert,
    AlertDetail,
    AlertEvent,
    AnomalyEvent,
    AnomalyReport,
    Channel,
    Dashboard,
    DashboardSummary,
    DashboardUpdate,
    DashboardView,
    Event,
    EventPage,
    Forecast,
    IngestResult,
    LiveEvent,
    MetricPoint,
    Model,
    Series,
)
from analytics_gateway_client.series import SeriesData
from analytics_gateway_client.transport import Subscription

__all__ = [
    "PRESETS",
    "Aggregation",
    "Alert",
    "AlertDetail",
    "AlertEvent",
    "AlertManager",
    "AlertState",
    "AnalyticsClient",
    "AnomalyDetector",
    "AnomalyEvent",
    "AnomalyReport",
    "BackendUnavailable",
    "BadUserInput",
    "Channel",
    "ChannelKind",
    "ChartStyle",
    "ClientError",
    "Conflict",
    "Dashboard",
    "DashboardLayout",
    "DashboardManager",
    "DashboardSummary",
    "DashboardUpdate",
    "DashboardView",
    "Event",
    "EventPage",
    "Forbidden",
    "Forecast",
    "GatewayError",
    "GraphQLErrorDetail",
    "IngestResult",
    "LiveEvent",
    "MetricPoint",
    "MetricPointInput",
    "MetricQuery",
    "MetricsCollector",
    "Model",
    "ModelKind",
    "NotFound",
    "PredictiveAnalytics",
    "QueryTooComplex",
    "QuotaExceeded",
    "RateLimited",
    "ResyncRequired",
    "Sensitivity",
    "Series",
    "SeriesData",
    "Severity",
    "Subscription",
    "TransportError",
    "Unauthenticated",
    "Viewer",
    "WidgetInput",
    "WidgetType",
]
