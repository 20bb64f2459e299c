"""The root Subscription type."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from analytics_gateway.context import Info
from analytics_gateway.resolvers import streams
from analytics_gateway.schema.alert_roots import AlertSubscription
from analytics_gateway.schema.arguments import Since
from analytics_gateway.schema.dashboard_roots import DashboardSubscription
from analytics_gateway.schema.events import Event
from analytics_gateway.schema.metrics import MetricPoint
from analytics_gateway.schema.ml_roots import MlSubscription


@strawberry.type(description="Live data of the caller's tenant.")
class Subscription(DashboardSubscription, AlertSubscription, MlSubscription):
    @strawberry.subscription(
        description="Every new point of the metric whose labels contain the given ones."
    )
    async def metric_points(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="Metric name.")],
        labels: Annotated[
            JSON | None,
            strawberry.argument(description="Only points whose labels contain these."),
        ] = None,
        since: Since = None,
    ) -> AsyncGenerator[MetricPoint, None]:
        async for point in streams.subscribe_metric_points(info, name, labels, since):
            yield point

    @strawberry.subscription(description="Every new event, optionally of one type only.")
    async def live_events(
        self,
        info: Info,
        type: Annotated[
            str | None, strawberry.argument(description="Only events of this type.")
        ] = None,
        since: Since = None,
    ) -> AsyncGenerator[Event, None]:
        async for event in streams.subscribe_live_events(info, type, since):
            yield event
