"""Resolvers for dashboards: authorise, turn inputs into the model, store, read, go live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import strawberry

from analytics_gateway import domain
from analytics_gateway.context import Info
from analytics_gateway.dashboards import catalogue, compose, live, model, panels, planner
from analytics_gateway.dashboards.compose import Component
from analytics_gateway.dashboards.planner import View
from analytics_gateway.dashboards.repository import DashboardRepository
from analytics_gateway.dashboards.results import WidgetResult
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput, NotFound
from analytics_gateway.resolvers.common import label_filter
from analytics_gateway.schema.dashboard_inputs import (
    DashboardInput,
    DashboardVariableInput,
    EventCountQueryInput,
    WidgetInput,
)
from analytics_gateway.schema.dashboards import (
    Dashboard,
    DashboardLayout,
    DashboardUpdate,
    WidgetUpdate,
)
from analytics_gateway.schema.metrics import MetricQueryInput, to_datetime
from analytics_gateway.services import Services


def repository(info: Info) -> DashboardRepository:
    return DashboardRepository(info.context.services.backends.config)


def view_of(
    dashboard: model.Dashboard,
    tenant: str,
    time_range: str | None,
    values: Mapping[str, Any] | None,
    now_ms: int | None = None,
) -> View:
    spec = dashboard.spec
    return planner.make_view(tenant, time_range or spec.time_range, spec.variables, values, now_ms)


def to_graphql(dashboard: model.Dashboard, view: View) -> Dashboard:
    return Dashboard(dashboard=dashboard, view=view)


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
    return [
        to_graphql(d, view_of(d, tenant, None, None)) for d in await repository(info).list(tenant)
    ]


async def resolve_dashboard(
    info: Info, dashboard_id: str, time_range: str | None, values: Any
) -> Dashboard:
    tenant = info.context.require(Scope.READ).tenant
    if values is not None and not isinstance(values, Mapping):
        raise BadUserInput("variables must be an object of name to value", field="variables")
    dashboard = await repository(info).get(tenant, dashboard_id)
    return to_graphql(dashboard, view_of(dashboard, tenant, time_range, values))


async def _created(info: Info, tenant: str, spec: model.DashboardSpec) -> Dashboard:
    dashboard = await repository(info).create(tenant, spec)
    return to_graphql(dashboard, view_of(dashboard, tenant, None, None))


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
    dashboard = await repository(info).update(
        tenant, dashboard_id, spec_from_input(given), expected_version=version
    )
    return to_graphql(dashboard, view_of(dashboard, tenant, None, None))


async def resolve_delete(info: Info, dashboard_id: str) -> bool:
    tenant = info.context.require(Scope.WRITE).tenant
    if not await repository(info).delete(tenant, dashboard_id):
        raise NotFound(f"no dashboard {dashboard_id!r}", id=dashboard_id)
    return True


# -- live updates ----------------------------------------------------------------


def fresh_loaders(services: Services) -> Loaders:
    """Loaders for one refresh: a long-lived subscription must not reuse cached answers."""
    backends = services.backends
    return Loaders.create(backends.metrics, backends.events, backends.prometheus)


def _outcome(answer: WidgetResult | BaseException) -> WidgetResult | Exception:
    if isinstance(answer, BaseException) and not isinstance(answer, Exception):
        raise answer  # cancellation goes on
    return answer


async def _updates(
    services: Services, dashboard: model.Dashboard, view: View, widget_ids: set[str]
) -> DashboardUpdate:
    widgets = [w for w in dashboard.spec.widgets if w.id in widget_ids]
    loaders = fresh_loaders(services)
    features = panels.Features.of(services)
    answers = await asyncio.gather(
        *(panels.widget_data(w, view, loaders, features) for w in widgets),
        return_exceptions=True,
    )
    return DashboardUpdate(
        dashboard_id=strawberry.ID(dashboard.id),
        version=dashboard.version,
        timestamp=to_datetime(view.now_ms),
        widgets=[
            WidgetUpdate(widget=w, result=_outcome(a))
            for w, a in zip(widgets, answers, strict=True)
        ],
    )


def _routes(dashboard: model.Dashboard, view: View) -> list[live.Route]:
    return [
        (widget.id, channel, wanted)
        for widget in dashboard.spec.widgets
        for channel, wanted in planner.plan(widget, view).channels
    ]


async def subscribe_dashboard(
    info: Info, dashboard_id: str, time_range: str | None, values: Any
) -> AsyncGenerator[DashboardUpdate, None]:
    """Updates of the widgets that new points or events touched, coalesced per second.

    The dashboard is read again before each update: a newer version sends every
    widget again (and listens where its new widgets read); a deleted one ends
    the subscription with NOT_FOUND.
    """
    tenant = info.context.require(Scope.READ).tenant
    if values is not None and not isinstance(values, Mapping):
        raise BadUserInput("variables must be an object of name to value", field="variables")
    services = info.context.services
    repo = repository(info)
    dashboard = await repo.get(tenant, dashboard_id)
    while True:
        routes = _routes(dashboard, view_of(dashboard, tenant, time_range, values))
        async for widget_ids in live.dirty_widgets(services.hub, routes):
            current = await repo.get(tenant, dashboard_id)
            view = view_of(current, tenant, time_range, values)
            if current.version != dashboard.version:
                dashboard = current
                yield await _updates(
                    services, dashboard, view, {w.id for w in dashboard.spec.widgets}
                )
                break
            yield await _updates(services, dashboard, view, widget_ids)
