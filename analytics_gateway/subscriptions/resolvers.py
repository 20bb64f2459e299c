"""Subscription resolvers: tenant-scoped channels, filtered per subscriber."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from strawberry.scalars import JSON

from analytics_gateway.context import Info
from analytics_gateway.domain import Scope
from analytics_gateway.resolvers.common import label_filter, metric_name
from analytics_gateway.schema.events import Event
from analytics_gateway.schema.metrics import MetricPoint, to_datetime
from analytics_gateway.subscriptions.channels import events_channel, metric_channel


async def subscribe_metric_points(
    info: Info, name: str, labels: JSON | None
) -> AsyncGenerator[MetricPoint, None]:
    principal = info.context.require(Scope.READ)
    wanted = label_filter(labels)
    channel = metric_channel(principal.tenant, metric_name(name))
    async with info.context.services.hub.listen(channel) as queue:
        async for message in queue:
            name = message["name"]
            for series in message["series"]:
                point_labels = series["labels"]
                if all(point_labels.get(k) == v for k, v in wanted):
                    for ts, value in zip(series["t"], series["v"], strict=True):
                        yield MetricPoint(
                            name=name, labels=point_labels, timestamp=to_datetime(ts), value=value
                        )


async def subscribe_live_events(info: Info, type: str | None) -> AsyncGenerator[Event, None]:
    principal = info.context.require(Scope.READ)
    async with info.context.services.hub.listen(events_channel(principal.tenant)) as queue:
        async for batch in queue:
            for item in batch:
                if type is None or item["type"] == type:
                    yield Event(
                        id=item["id"],
                        type=item["type"],
                        user_id=item["userId"],
                        timestamp=to_datetime(item["t"]),
                        metadata=item["metadata"],
                    )
