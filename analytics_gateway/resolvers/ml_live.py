"""The live anomalies subscription: alerts of the tenant's models as they are raised."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from strawberry.scalars import JSON

from analytics_gateway.context import Info
from analytics_gateway.domain import Scope
from analytics_gateway.inputs import label_filter, metric_name
from analytics_gateway.resolvers.streams import messages
from analytics_gateway.schema.ml import AnomalyEvent
from analytics_gateway.subscriptions.channels import anomalies_channel


async def subscribe_anomalies(
    info: Info, metric: str | None, labels: JSON | None, since: str | None
) -> AsyncGenerator[AnomalyEvent, None]:
    principal = info.context.require(Scope.READ)
    name = metric_name(metric, "metric") if metric is not None else None
    wanted = label_filter(labels)
    channel = anomalies_channel(principal.tenant)
    async for message_id, batch, start in messages(info.context.services.hub, channel, since):
        for index, item in enumerate(batch):
            if index < start or (name is not None and item["metric"] != name):
                continue
            if all(item["labels"].get(k) == v for k, v in wanted):
                yield AnomalyEvent.of(item, message_id, index)
