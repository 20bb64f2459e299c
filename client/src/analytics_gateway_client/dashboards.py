"""`DashboardManager`: the brief's realtime and custom dashboards, reading them with
their data, and their live updates. Creating needs the `write` scope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from analytics_gateway_client._convert import enum_of, widget_input
from analytics_gateway_client.generated.enums import DashboardLayout
from analytics_gateway_client.generated.input_types import DashboardVariableInput, WidgetInput
from analytics_gateway_client.results import (
    Dashboard,
    DashboardSummary,
    DashboardUpdate,
    DashboardView,
)
from analytics_gateway_client.transport import Subscription, required

if TYPE_CHECKING:
    from analytics_gateway_client.client import AnalyticsClient

PRESETS = ("system_health", "user_activity", "revenue", "alerts", "anomalies", "forecast")
"""The widget presets `create_realtime_dashboard` knows."""


class DashboardManager:
    """Creates, reads and follows the tenant's dashboards."""

    def __init__(self, client: AnalyticsClient) -> None:
        self._client = client

    async def create_realtime_dashboard(
        self,
        widgets: Sequence[str],
        *,
        name: str | None = None,
        tenant_id: str | None = None,
    ) -> Dashboard:
        """A live dashboard from presets (see `PRESETS`), as the brief writes it:

            await dashboards.create_realtime_dashboard(
                widgets=["system_health", "user_activity", "revenue"]
            )

        The dashboard belongs to the key's tenant; a `tenant_id` that is not it
        raises `Forbidden`."""
        await self._client.check_tenant(tenant_id)
        answer = await self._client.call(
            self._client.graphql.create_realtime_dashboard(list(widgets), name=name)
        )
        return answer.create_realtime_dashboard

    async def create_custom_dashboard(
        self,
        name: str,
        components: Sequence[WidgetInput | Mapping[str, Any]],
        *,
        layout: DashboardLayout | str = DashboardLayout.GRID,
        time_range: str = "1h",
        variables: Sequence[DashboardVariableInput | Mapping[str, Any]] | None = None,
    ) -> Dashboard:
        """A dashboard of explicit widgets, as the brief writes it:

            await dashboards.create_custom_dashboard(
                name="Executive Dashboard", layout="grid",
                components=[
                    {"type": "chart", "data": "daily_revenue"},
                    {"type": "kpi", "metric": "active_users"},
                    {"type": "heatmap", "data": "user_activity"},
                ],
            )

        A component is a `WidgetInput` or a dict of its fields (snake_case or
        camelCase; enum values in any case): `type` and one of `data` (a named
        source or a metric), `metric`, `formula`, `query` or `events`."""
        answer = await self._client.call(
            self._client.graphql.create_custom_dashboard(
                name=name,
                components=[widget_input(c) for c in components],
                layout=enum_of(DashboardLayout, layout),
                time_range=time_range,
                variables=(
                    [
                        v
                        if isinstance(v, DashboardVariableInput)
                        else DashboardVariableInput.model_validate(v)
                        for v in variables
                    ]
                    if variables is not None
                    else None
                ),
            )
        )
        return answer.create_custom_dashboard

    async def get(
        self,
        dashboard_id: str,
        *,
        time_range: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> DashboardView:
        """A dashboard with every widget's data over `time_range` (default: its own),
        with `variables` chosen; NotFound for an id the tenant does not have."""
        answer = await self._client.call(
            self._client.graphql.dashboard(
                dashboard_id,
                time_range=time_range,
                variables=dict(variables) if variables is not None else None,
            )
        )
        return required(answer.dashboard, "dashboard")

    async def dashboards(self) -> list[DashboardSummary]:
        """The tenant's dashboards, by name."""
        answer = await self._client.call(self._client.graphql.dashboards())
        return list(required(answer.dashboards, "dashboards"))

    async def delete(self, dashboard_id: str) -> bool:
        """Delete a dashboard (NotFound if there is none)."""
        answer = await self._client.call(self._client.graphql.delete_dashboard(dashboard_id))
        return answer.delete_dashboard

    def updates(
        self,
        dashboard_id: str,
        *,
        time_range: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Subscription[DashboardUpdate]:
        """The widgets of a dashboard with new data as points arrive (at most one
        update per widget per second)."""
        stream = self._client.graphql.dashboard_updates(
            dashboard_id,
            time_range=time_range,
            variables=dict(variables) if variables is not None else None,
        )
        return self._client.subscribe(stream, lambda message: message.dashboard_updates)
