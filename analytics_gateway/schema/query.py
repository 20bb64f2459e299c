"""The root Query type."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from analytics_gateway.context import Info
from analytics_gateway.resolvers import events as event_resolvers
from analytics_gateway.resolvers import metrics as metric_resolvers
from analytics_gateway.schema.alert_roots import AlertQuery
from analytics_gateway.schema.audit_roots import AuditQuery
from analytics_gateway.schema.behaviour import BehaviourQuery
from analytics_gateway.schema.dashboard_roots import DashboardQuery
from analytics_gateway.schema.engagement import EngagementQuery
from analytics_gateway.schema.events import EventConnection, EventFilter
from analytics_gateway.schema.key_roots import KeyQuery
from analytics_gateway.schema.kpi_roots import KpiQuery
from analytics_gateway.schema.metrics import MetricQueryInput, MetricSource, Series
from analytics_gateway.schema.ml_roots import MlQuery
from analytics_gateway.schema.privacy_roots import PrivacyQuery
from analytics_gateway.schema.recommendations import RecommendationQuery
from analytics_gateway.schema.report_roots import ReportQuery
from analytics_gateway.schema.segments import SegmentsQuery


@strawberry.type(
    description="Read metrics and events of the caller's tenant. Root fields are nullable: "
    "when one store is down its fields are null with a BACKEND_UNAVAILABLE error, and the "
    "other fields still answer."
)
class Query(
    DashboardQuery,
    AlertQuery,
    MlQuery,
    RecommendationQuery,
    BehaviourQuery,
    EngagementQuery,
    PrivacyQuery,
    AuditQuery,
    KeyQuery,
    KpiQuery,
    ReportQuery,
    SegmentsQuery,
):
    @strawberry.field(
        description="Series of one metric matching the query; raw or bucketed by `step`."
    )
    async def metrics(
        self,
        info: Info,
        query: Annotated[
            MetricQueryInput, strawberry.argument(description="Metric, labels, range and shape.")
        ],
    ) -> list[Series] | None:
        return await metric_resolvers.resolve_metrics(info, query)

    @strawberry.field(description="Metric names stored for this tenant, optionally by prefix.")
    async def metric_names(
        self,
        info: Info,
        prefix: Annotated[
            str | None, strawberry.argument(description="Only names starting with this.")
        ] = None,
        source: Annotated[
            MetricSource, strawberry.argument(description="Where to look: store or Prometheus.")
        ] = MetricSource.STORE,
    ) -> list[str] | None:
        return await metric_resolvers.resolve_metric_names(info, prefix, source)

    @strawberry.field(description="Distinct values of one label of one metric.")
    async def label_values(
        self,
        info: Info,
        metric: Annotated[str, strawberry.argument(description="Metric name.")],
        label: Annotated[str, strawberry.argument(description="Label name.")],
        source: Annotated[
            MetricSource, strawberry.argument(description="Where to look: store or Prometheus.")
        ] = MetricSource.STORE,
    ) -> list[str] | None:
        return await metric_resolvers.resolve_label_values(info, metric, label, source)

    @strawberry.field(description="Label names of one metric's series in the store, sorted.")
    async def label_names(
        self,
        info: Info,
        metric: Annotated[str, strawberry.argument(description="Metric name.")],
    ) -> list[str] | None:
        return await metric_resolvers.resolve_label_names(info, metric)

    @strawberry.field(description="Event types recorded for this tenant, sorted (at most 1000).")
    async def event_types(self, info: Info) -> list[str] | None:
        return await event_resolvers.resolve_event_types(info)

    @strawberry.field(
        description="A PromQL expression evaluated by the configured Prometheus as a range "
        "query, read-only: every selector in it is restricted to the caller's tenant, and "
        "matching on the tenant label yourself is refused. Series are named by their "
        "`__name__` label, or by the query when the expression drops it."
    )
    async def promql(
        self,
        info: Info,
        query: Annotated[
            str, strawberry.argument(description='The PromQL, e.g. "sum by (job) (up)".')
        ],
        step: Annotated[
            str, strawberry.argument(description='Resolution of the range query, e.g. "1m".')
        ],
        last: Annotated[
            str | None,
            strawberry.argument(
                description='Relative range ending now, e.g. "1h". Default 1h when no from/to.'
            ),
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Range start (inclusive)."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Range end; default now.")
        ] = None,
    ) -> list[Series] | None:
        return await metric_resolvers.resolve_promql(info, query, last, from_, to, step)

    @strawberry.field(description="Events, newest first, with cursor pagination.")
    async def events(
        self,
        info: Info,
        filter: Annotated[EventFilter, strawberry.argument(description="Which events.")],
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 1000.")] = 100,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the last event already seen.")
        ] = None,
    ) -> EventConnection | None:
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
    ) -> list[Series] | None:
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
