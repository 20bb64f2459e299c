"""Root fields for dashboards, as bases of the root Query, Mutation and Subscription types."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from analytics_gateway.context import Info
from analytics_gateway.resolvers import dashboards as resolvers
from analytics_gateway.schema.dashboard_inputs import (
    DashboardInput,
    DashboardVariableInput,
    WidgetInput,
)
from analytics_gateway.schema.dashboards import Dashboard, DashboardLayout, DashboardUpdate

TIME_RANGE = strawberry.argument(
    description='Range ending now for every widget without its own, e.g. "6h"; default: '
    "the dashboard's timeRange."
)
FROM = strawberry.argument(
    name="from",
    description="Start of an absolute range (inclusive), with `to` and instead of "
    "`timeRange`; at most 366 days before `to`.",
)
TO = strawberry.argument(description="End of an absolute range (exclusive), with `from`.")
VARIABLES = strawberry.argument(
    description='Variable values by name, e.g. {"country": "DE"}; default: each default.'
)


@strawberry.type(description="Dashboards of the caller's tenant.")
class DashboardQuery:
    @strawberry.field(description="Every dashboard of the tenant, by name.")
    async def dashboards(self, info: Info) -> list[Dashboard] | None:
        return await resolvers.resolve_dashboards(info)

    @strawberry.field(
        description="One dashboard; `widgets { data }` reads every widget in one round trip, "
        "with one call per backend. NOT_FOUND for an id this tenant does not have."
    )
    async def dashboard(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Dashboard id.")],
        time_range: Annotated[str | None, TIME_RANGE] = None,
        variables: Annotated[JSON | None, VARIABLES] = None,
        from_: Annotated[datetime | None, FROM] = None,
        to: Annotated[datetime | None, TO] = None,
    ) -> Dashboard | None:
        return await resolvers.resolve_dashboard(info, str(id), time_range, variables, from_, to)


@strawberry.type(description="Create, change and delete dashboards (needs the write scope).")
class DashboardMutation:
    @strawberry.mutation(
        description="A live dashboard from named presets: system_health, user_activity, "
        "revenue, alerts, anomalies, forecast, business (plays, active users, sign-ups, "
        "subscriptions, top songs), gateway_health (the operator's tenant: what "
        "self-monitoring and `analytics-gateway agent` record)."
    )
    async def create_realtime_dashboard(
        self,
        info: Info,
        widgets: Annotated[
            list[str], strawberry.argument(description='Preset names, e.g. ["revenue"].')
        ],
        name: Annotated[
            str | None, strawberry.argument(description="Name; default: from the presets.")
        ] = None,
    ) -> Dashboard:
        return await resolvers.resolve_create_realtime(info, widgets, name)

    @strawberry.mutation(description="A dashboard from explicit widgets (components).")
    async def create_custom_dashboard(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="Name of the dashboard.")],
        components: Annotated[
            list[WidgetInput], strawberry.argument(description="The widgets, in order.")
        ],
        layout: Annotated[
            DashboardLayout, strawberry.argument(description="How widgets are arranged.")
        ] = DashboardLayout.GRID,
        time_range: Annotated[
            str, strawberry.argument(description='Default range ending now, e.g. "1h".')
        ] = "1h",
        variables: Annotated[
            list[DashboardVariableInput] | None,
            strawberry.argument(description="Variables substituted into widget queries."),
        ] = None,
    ) -> Dashboard:
        return await resolvers.resolve_create_custom(
            info, name, layout, components, time_range, variables
        )

    @strawberry.mutation(
        description="Replace a dashboard's definition. `version` must be the version it was "
        "read at: if someone saved since, nothing changes and the error has code CONFLICT."
    )
    async def update_dashboard(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Dashboard id.")],
        version: Annotated[int, strawberry.argument(description="The version read.")],
        input: Annotated[DashboardInput, strawberry.argument(description="New definition.")],
    ) -> Dashboard:
        return await resolvers.resolve_update(info, str(id), version, input)

    @strawberry.mutation(description="Delete a dashboard; NOT_FOUND if there is none.")
    async def delete_dashboard(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Dashboard id.")],
    ) -> bool:
        return await resolvers.resolve_delete(info, str(id))


@strawberry.type(description="Live dashboards.")
class DashboardSubscription:
    @strawberry.subscription(
        description="Widgets of the dashboard with new data, as points and events arrive: at "
        "most one update per widget per second."
    )
    async def dashboard_updates(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Dashboard id.")],
        time_range: Annotated[str | None, TIME_RANGE] = None,
        variables: Annotated[JSON | None, VARIABLES] = None,
        from_: Annotated[datetime | None, FROM] = None,
        to: Annotated[datetime | None, TO] = None,
    ) -> AsyncGenerator[DashboardUpdate, None]:
        updates = resolvers.subscribe_dashboard(info, str(id), time_range, variables, from_, to)
        async for update in updates:
            yield update
