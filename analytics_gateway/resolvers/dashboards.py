"""Resolvers for dashboards: authorise, turn inputs into the model, read, store, go live.

Reading and rendering is `DashboardService`'s; here the results become GraphQL
types. A widget's data is read only when its `data` field is asked for.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from analytics_gateway import domain
from analytics_gateway.context import Info
from analytics_gateway.dashboards import catalogue, compose, model, results
from analytics_gateway.dashboards.compose import Component
from analytics_gateway.dashboards.planner import View, absolute_range
from analytics_gateway.dashboards.service import DashboardService, Rendered, checked_values
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput, NotFound
from analytics_gateway.inputs import epoch_ms, label_filter
from analytics_gateway.resolvers.alerts import to_alert
from analytics_gateway.schema.dashboard_inputs import (
    DashboardInput,
    DashboardVariableInput,
    EventCountQueryInput,
    WidgetInput,
)
from analytics_gateway.schema.dashboards import (
    AlertsData,
    AnomaliesData,
    ChartData,
    ChartStyle,
    Dashboard,
    DashboardLayout,
    DashboardUpdate,
    DashboardVariable,
    ForecastData,
    HeatmapData,
    KpiData,
    KpiDirection,
    KpiStatus,
    PanelData,
    TableData,
    Widget,
    WidgetAnomaly,
    WidgetData,
    WidgetType,
    WidgetUpdate,
)
from analytics_gateway.schema.metrics import MetricQueryInput, Series, to_datetime
from analytics_gateway.schema.scalars import SeriesData


def service(info: Info) -> DashboardService:
    return info.context.services.dashboards


# -- model -> GraphQL ------------------------------------------------------------


def _columns(series: domain.Series) -> SeriesData:
    timestamps, values = series.columns()
    return cast(SeriesData, {"t": timestamps, "v": values})


def widget_data(result: results.WidgetResult) -> WidgetData:
    if isinstance(result, results.ChartResult):
        return ChartData(
            series=[Series(series=s) for s in result.series], style=ChartStyle[result.style.name]
        )
    if isinstance(result, results.KpiResult):
        return KpiData(
            value=result.value,
            previous=result.previous,
            change=result.change,
            sparkline=_columns(result.sparkline),
            status=KpiStatus[result.status.upper()] if result.status else None,
            target=result.target,
            direction=KpiDirection[result.direction.upper()] if result.direction else None,
        )
    if isinstance(result, results.HeatmapResult):
        return HeatmapData(
            row_labels=result.rows,
            timestamps=[float(t) for t in result.timestamps],
            values=cast(JSON, result.values),
        )
    if isinstance(result, results.TableResult):
        return TableData(rows=[Series(series=s) for s in result.series])
    if isinstance(result, results.AlertsResult):
        return AlertsData(alerts=[to_alert(rule, state) for rule, state in result.entries])
    if isinstance(result, results.AnomaliesResult):
        return AnomaliesData(
            series=[Series(series=s) for s in result.series],
            anomalies=[
                WidgetAnomaly(
                    labels=cast(JSON, m.labels),
                    timestamp=to_datetime(m.timestamp),
                    value=m.value,
                    score=m.score,
                )
                for m in result.anomalies
            ],
            detector=result.detector,
        )
    if isinstance(result, results.ForecastPanelResult):
        return ForecastData(
            history=Series(series=result.history),
            forecast=Series(series=result.forecast),
            lower=_columns(result.lower),
            upper=_columns(result.upper),
            model=result.model,
        )
    return PanelData(kind=WidgetType[result.kind.upper()], available=False, message=result.reason)


async def _render(
    dashboards: DashboardService, widget: model.Widget, view: View, loaders: Loaders
) -> WidgetData:
    return widget_data(await dashboards.render(widget, view, loaders))


def to_graphql(info: Info, dashboard: model.Dashboard, view: View) -> Dashboard:
    dashboards, loaders = service(info), info.context.loaders
    return Dashboard(
        dashboard=dashboard,
        variables_=[
            DashboardVariable(
                variable=v,
                values=view.values,
                read_options=functools.partial(dashboards.options, view.tenant, v, loaders),
            )
            for v in dashboard.spec.variables
        ],
        widgets_=[
            Widget(widget=w, read_data=functools.partial(_render, dashboards, w, view, loaders))
            for w in dashboard.spec.widgets
        ],
    )


def _update_data(rendered: Rendered) -> WidgetData | Exception:
    return rendered if isinstance(rendered, Exception) else widget_data(rendered)


# -- inputs -> model -----------------------------------------------------------


def _aggregation(value: Any) -> domain.Aggregation | None:
    return domain.Aggregation[value.name] if value is not None else None


def _from_metric_query(query: MetricQueryInput) -> model.WidgetQuery:
    if query.from_ is not None or query.to is not None:
        raise BadUserInput(
            "query: dashboards read relative ranges; use `last`, not `from`/`to`", field="query"
        )
    return model.WidgetQuery(
        model.QueryKind.METRIC,
        name=query.name,
        labels=dict(label_filter(query.labels)),
        aggregation=_aggregation(query.aggregation),
        step=query.step,
        group_by=tuple(query.group_by) if query.group_by is not None else None,
        last=query.last,
        source=domain.MetricSource[query.source.name],
    )


def _from_events(query: EventCountQueryInput) -> model.WidgetQuery:
    return model.WidgetQuery(
        model.QueryKind.EVENTS,
        name=query.type,
        step=query.step,
        group_by=(query.group_by,) if query.group_by else None,
        last=query.last,
    )


def component(item: WidgetInput) -> Component:
    p = item.position
    return Component(
        type=model.WidgetType[item.type.name],
        id=str(item.id) if item.id else None,
        title=item.title,
        position=model.Position(p.x, p.y, p.w, p.h) if p else None,
        style=model.ChartStyle[item.style.name] if item.style else None,
        data=item.data,
        metric=item.metric,
        formula=item.formula,
        query=_from_metric_query(item.query) if item.query else None,
        events=_from_events(item.events) if item.events else None,
        aggregation=_aggregation(item.aggregation),
        labels=dict(label_filter(item.labels)) if item.labels is not None else None,
        group_by=tuple(item.group_by) if item.group_by is not None else None,
        step=item.step,
        last=item.last,
        unit=item.unit.name.lower() if item.unit else None,
        thresholds=tuple(model.Threshold(t.value, t.color) for t in item.thresholds or ()),
        kpi=str(item.kpi) if item.kpi is not None else None,
    )


def variables_from_inputs(
    items: Sequence[DashboardVariableInput] | None,
) -> tuple[model.Variable, ...]:
    return tuple(
        model.Variable(
            name=v.name,
            label=v.label or "",
            default=v.default,
            options=tuple(v.options or ()),
            options_metric=v.options_metric,
            options_label=v.options_label,
        )
        for v in items or ()
    )


def spec_from_input(given: DashboardInput) -> model.DashboardSpec:
    return model.DashboardSpec(
        name=given.name,
        widgets=compose.widgets([component(w) for w in given.widgets]),
        layout=model.Layout[given.layout.name],
        time_range=given.time_range,
        variables=variables_from_inputs(given.variables),
    )


# -- queries and mutations ------------------------------------------------------


async def resolve_dashboards(info: Info) -> list[Dashboard]:
    tenant = info.context.require(Scope.READ).tenant
    dashboards = service(info)
    return [
        to_graphql(info, d, dashboards.view(d, tenant))
        for d in await dashboards.repository.list(tenant)
    ]


def _absolute(
    start: datetime | None, end: datetime | None, time_range: str | None
) -> tuple[int, int] | None:
    return absolute_range(
        epoch_ms(start) if start is not None else None,
        epoch_ms(end) if end is not None else None,
        time_range,
    )


async def resolve_dashboard(
    info: Info,
    dashboard_id: str,
    time_range: str | None,
    values: Any,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Dashboard:
    tenant = info.context.require(Scope.READ).tenant
    checked_values(values)
    absolute = _absolute(start, end, time_range)
    dashboards = service(info)
    dashboard = await dashboards.repository.get(tenant, dashboard_id)
    view = dashboards.view(dashboard, tenant, time_range, values, absolute)
    return to_graphql(info, dashboard, view)


async def _created(info: Info, tenant: str, spec: model.DashboardSpec) -> Dashboard:
    dashboards = service(info)
    dashboard = await dashboards.create(tenant, spec)
    return to_graphql(info, dashboard, dashboards.view(dashboard, tenant))


async def resolve_create_custom(
    info: Info,
    name: str,
    layout: DashboardLayout,
    components: list[WidgetInput],
    time_range: str,
    variables: list[DashboardVariableInput] | None,
) -> Dashboard:
    tenant = info.context.require(Scope.WRITE).tenant
    given = DashboardInput(
        name=name, widgets=components, layout=layout, time_range=time_range, variables=variables
    )
    return await _created(info, tenant, spec_from_input(given))


async def resolve_create_realtime(info: Info, presets: list[str], name: str | None) -> Dashboard:
    tenant = info.context.require(Scope.WRITE).tenant
    return await _created(info, tenant, catalogue.realtime_spec(presets, name))


async def resolve_update(
    info: Info, dashboard_id: str, version: int, given: DashboardInput
) -> Dashboard:
    tenant = info.context.require(Scope.WRITE).tenant
    dashboards = service(info)
    dashboard = await dashboards.repository.update(
        tenant, dashboard_id, spec_from_input(given), expected_version=version
    )
    return to_graphql(info, dashboard, dashboards.view(dashboard, tenant))


async def resolve_delete(info: Info, dashboard_id: str) -> bool:
    tenant = info.context.require(Scope.WRITE).tenant
    if not await service(info).repository.delete(tenant, dashboard_id):
        raise NotFound(f"no dashboard {dashboard_id!r}", id=dashboard_id)
    return True


# -- live updates ----------------------------------------------------------------


async def subscribe_dashboard(
    info: Info,
    dashboard_id: str,
    time_range: str | None,
    values: Any,
    start: datetime | None = None,
    end: datetime | None = None,
) -> AsyncGenerator[DashboardUpdate, None]:
    """Updates of the widgets that new points or events touched (see `DashboardService`)."""
    tenant = info.context.require(Scope.READ).tenant
    absolute = _absolute(start, end, time_range)
    services = info.context.services
    loaders = functools.partial(Loaders.for_request, services)
    updates = services.dashboards.updates(
        tenant, dashboard_id, time_range, values, loaders, absolute
    )
    async for update in updates:
        yield DashboardUpdate(
            dashboard_id=strawberry.ID(update.dashboard.id),
            version=update.dashboard.version,
            timestamp=to_datetime(services.clock()),  # `view.now_ms` is `to` when absolute
            widgets=[
                WidgetUpdate(widget_id=strawberry.ID(w.id), result=_update_data(r))
                for w, r in zip(update.widgets, update.results, strict=True)
            ],
        )
