"""`DashboardService`: stored dashboards, views of them, and their widgets' data.

Every reader renders through it: the GraphQL `dashboard` field, the live
`dashboardUpdates` subscription and `GET /analytics/dashboards/{id}`, so a
widget shows the same data whichever way it is read. Rendering issues every
widget's loader keys before awaiting any, so a whole dashboard costs one call
per backend (see `planner`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass

from analytics_gateway.alerting.service import AlertService
from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.dashboards import live, panels, planner
from analytics_gateway.dashboards.model import (
    Dashboard,
    DashboardSpec,
    QueryKind,
    Variable,
    Widget,
)
from analytics_gateway.dashboards.planner import View
from analytics_gateway.dashboards.repository import DashboardRepository
from analytics_gateway.dashboards.results import WidgetResult
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import LabelValuesQuery
from analytics_gateway.errors import BadUserInput
from analytics_gateway.kpis.service import KpiService
from analytics_gateway.ml.service import MlService
from analytics_gateway.quotas import Quotas
from analytics_gateway.subscriptions.hub import Hub

Rendered = WidgetResult | Exception
"""A widget's data, or the error that stopped it (the other widgets still render)."""


@dataclass(frozen=True)
class Update:
    """Widgets of a dashboard with new data, as the live subscription sends them."""

    dashboard: Dashboard
    view: View
    widgets: list[Widget]
    results: list[Rendered]


class DashboardService:
    def __init__(
        self,
        config: ConfigStore,
        alerts: AlertService,
        ml: MlService,
        hub: Hub,
        clock: Callable[[], int],
        quotas: Quotas | None = None,
        kpis: KpiService | None = None,
    ) -> None:
        self.repository = DashboardRepository(config, clock)
        self._quotas = quotas
        self._features = panels.Features(alerts, ml, kpis)
        self._hub = hub
        self._clock = clock

    def view(
        self,
        dashboard: Dashboard,
        tenant: str,
        time_range: str | None = None,
        values: object = None,
        absolute: tuple[int, int] | None = None,
    ) -> View:
        """What the dashboard shows now: its range (or `time_range`, or the `absolute`
        [from, to) of `planner.absolute_range`) and variable values."""
        spec = dashboard.spec
        given = checked_values(values)
        return planner.make_view(
            tenant, time_range or spec.time_range, spec.variables, given, self._clock(), absolute
        )

    async def render(self, widget: Widget, view: View, loaders: Loaders) -> WidgetResult:
        return await panels.widget_data(widget, view, loaders, self._features)

    async def render_all(
        self, widgets: Sequence[Widget], view: View, loaders: Loaders
    ) -> list[Rendered]:
        """Every widget at once (one batch per backend); a failed widget gets its error."""
        answers = await asyncio.gather(
            *(self.render(w, view, loaders) for w in widgets), return_exceptions=True
        )
        return [_outcome(answer) for answer in answers]

    async def options(self, tenant: str, variable: Variable, loaders: Loaders) -> list[str]:
        """A variable's choices: its fixed options, then its metric label's values."""
        if variable.options_metric is None or variable.options_label is None:
            return list(variable.options)
        query = LabelValuesQuery(tenant, variable.options_metric, variable.options_label)
        found = await loaders.label_values.load(query)
        return list(dict.fromkeys([*variable.options, *found]))

    async def create(self, tenant: str, spec: DashboardSpec) -> Dashboard:
        if self._quotas is None:
            return await self.repository.create(tenant, spec)
        async with self._quotas.creating(tenant, "dashboards"):
            held = len(await self.repository.list(tenant))
            await self._quotas.check_count(tenant, "dashboards", held)
            return await self.repository.create(tenant, spec)

    async def updates(
        self,
        tenant: str,
        dashboard_id: str,
        time_range: str | None,
        values: object,
        loaders: Callable[[], Loaders],
        absolute: tuple[int, int] | None = None,
    ) -> AsyncIterator[Update]:
        """Widgets that new points or events touched, coalesced per second.

        The dashboard is read again before each update: a newer version sends every
        widget again (and listens where its new widgets read); a deleted one ends
        the stream with NOT_FOUND. Each refresh reads through fresh `loaders()`.
        """
        checked_values(values)
        dashboard = await self.repository.get(tenant, dashboard_id)
        self.view(dashboard, tenant, time_range, values, absolute)  # bad input fails first
        while True:
            view = self.view(dashboard, tenant, time_range, values, absolute)
            routes = _routes(dashboard, view) + await self._kpi_routes(dashboard, tenant)
            async for widget_ids in live.dirty_widgets(self._hub, routes):
                current = await self.repository.get(tenant, dashboard_id)
                view = self.view(current, tenant, time_range, values, absolute)
                changed = current.version != dashboard.version
                dashboard = current
                wanted = [w for w in current.spec.widgets if changed or w.id in widget_ids]
                yield Update(current, view, wanted, await self.render_all(wanted, view, loaders()))
                if changed:
                    break

    async def _kpi_routes(self, dashboard: Dashboard, tenant: str) -> list[live.Route]:
        """Saved-KPI widgets listen where their KPI's metrics and events are announced."""
        kpis = self._features.kpis
        if kpis is None:
            return []
        return [
            (widget.id, channel, wanted)
            for widget in dashboard.spec.widgets
            if widget.query is not None and widget.query.kind is QueryKind.KPI
            for channel, wanted in await kpis.channels(tenant, widget.query.kpi_id)
        ]


def checked_values(values: object) -> Mapping[str, object] | None:
    """Variable values as a client sent them: an object of name to value, or nothing."""
    if values is not None and not isinstance(values, Mapping):
        raise BadUserInput("variables must be an object of name to value", field="variables")
    return values


def _outcome(answer: WidgetResult | BaseException) -> Rendered:
    if isinstance(answer, BaseException) and not isinstance(answer, Exception):
        raise answer  # cancellation goes on
    return answer


def _routes(dashboard: Dashboard, view: View) -> list[live.Route]:
    return [
        (widget.id, channel, wanted)
        for widget in dashboard.spec.widgets
        for channel, wanted in planner.plan(widget, view).channels
    ]
