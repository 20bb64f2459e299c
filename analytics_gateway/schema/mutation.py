"""The root Mutation type."""

from __future__ import annotations

from typing import Annotated

import strawberry

from analytics_gateway.context import Info
from analytics_gateway.resolvers import ingest as ingest_resolvers
from analytics_gateway.schema.alert_roots import AlertMutation
from analytics_gateway.schema.dashboard_roots import DashboardMutation
from analytics_gateway.schema.health_roots import HealthMutation
from analytics_gateway.schema.ingest import (
    BusinessMetricsInput,
    EventInput,
    IngestResult,
    MetricPointInput,
)
from analytics_gateway.schema.key_roots import KeyMutation
from analytics_gateway.schema.kpi_roots import KpiMutation
from analytics_gateway.schema.ml_roots import MlMutation
from analytics_gateway.schema.operator_roots import OperatorMutation
from analytics_gateway.schema.privacy_roots import PrivacyMutation
from analytics_gateway.schema.report_roots import ReportMutation


@strawberry.type(
    description="Write metrics and events for the caller's tenant (the ingest scope), and "
    "change alerts, dashboards and models (write) and channels (admin)."
)
class Mutation(
    DashboardMutation,
    AlertMutation,
    MlMutation,
    OperatorMutation,
    HealthMutation,
    PrivacyMutation,
    KeyMutation,
    KpiMutation,
    ReportMutation,
):
    @strawberry.mutation(
        description="Store metric points; valid ones are stored, invalid ones reported by index."
    )
    async def ingest_metrics(
        self,
        info: Info,
        points: Annotated[
            list[MetricPointInput], strawberry.argument(description="Points to store.")
        ],
    ) -> IngestResult:
        return await ingest_resolvers.resolve_ingest_metrics(info, points)

    @strawberry.mutation(description="Store application events (e.g. song_play).")
    async def record_events(
        self,
        info: Info,
        events: Annotated[list[EventInput], strawberry.argument(description="Events to store.")],
    ) -> IngestResult:
        return await ingest_resolvers.resolve_record_events(info, events)

    @strawberry.mutation(description="Store business metrics (revenue, active users...).")
    async def record_business_metrics(
        self,
        info: Info,
        input: Annotated[
            BusinessMetricsInput, strawberry.argument(description="Values observed at one moment.")
        ],
    ) -> IngestResult:
        return await ingest_resolvers.resolve_record_business_metrics(info, input)
