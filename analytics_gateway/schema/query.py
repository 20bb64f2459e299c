"""The root Query type."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from analytics_gateway.context import Info
from analytics_gateway.resolvers import events as event_resolvers
from analytics_gateway.resolvers import metrics as metric_resolvers
from analytics_gateway.schema.events import EventConnection, EventFilter
from analytics_gateway.schema.metrics import MetricQueryInput, Series


@strawberry.type(description="Read metrics and events of the caller's tenant.")
class Query:
    @strawberry.field(
        description="Series of one metric matching the query; raw or bucketed by `step`."
    )
    async def metrics(
        self,
        info: Info,
        query: Annotated[
            MetricQueryInput, strawberry.argument(description="Metric, labels, range and shape.")
        ],
    ) -> list[Series]:
        return await metric_resolvers.resolve_metrics(info, query)

    @strawberry.field(description="Metric names stored for this tenant, optionally by prefix.")
    async def metric_names(
        self,
        info: Info,
        prefix: Annotated[
            str | None, strawberry.argument(description="Only names starting with this.")
        ] = None,
    ) -> list[str]:
        return await metric_resolvers.resolve_metric_names(info, prefix)

    @strawberry.field(description="Distinct values of one label of one metric.")
    async def label_values(
        self,
        info: Info,
        metric: Annotated[str, strawberry.argument(description="Metric name.")],
        label: Annotated[str, strawberry.argument(description="Label name.")],
    ) -> list[str]:
        return await metric_resolvers.resolve_label_values(info, metric, label)

    @strawberry.field(description="Events, newest first, with cursor pagination.")
    async def events(
        self,
        info: Info,
        filter: Annotated[EventFilter, strawberry.argument(description="Which events.")],
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 1000.")] = 100,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the last event already seen.")
        ] = None,
    ) -> EventConnection:
        return await event_resolvers.resolve_events(info, filter, first, after)

    @strawberry.field(
        description="Counts of one event type per `step` over the `last` range; "
        "`groupBy` splits them by a metadata field (e.g. country)."
    )
    async def event_counts(
        self,
        info: Info,
        type: Annotated[
            str, strawberry.argument(description="Event type to count, e.g. song_play.")
        ],
        last: Annotated[str, strawberry.argument(description='Range ending now, e.g. "24h".')],
        step: Annotated[str, strawberry.argument(description='Bucket width, e.g. "1h".')],
        group_by: Annotated[
            str | None, strawberry.argument(description="Metadata field to split counts by.")
        ] = None,
    ) -> list[Series]:
        return await event_resolvers.resolve_event_counts(info, type, last, step, group_by)

    @strawberry.field(description="Who the caller is: tenant and scopes of the API key.")
    def viewer(self, info: Info) -> JSON | None:
        principal = info.context.principal
        if principal is None:
            return None
        return {  # type: ignore[return-value]
            "tenant": principal.tenant,
            "keyId": principal.key_id,
            "scopes": sorted(s.value for s in principal.scopes),
        }
