"""Resolvers for KPIs: authorise, turn inputs into the model, read through `KpiService`."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from analytics_gateway import domain
from analytics_gateway.alerting import model as alert_model
from analytics_gateway.alerting.engine import RuleState
from analytics_gateway.context import Info
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.errors import NotFound
from analytics_gateway.inputs import bounded_range, label_filter
from analytics_gateway.kpis import alerts as kpi_alerts
from analytics_gateway.kpis import model
from analytics_gateway.kpis.service import KpiService
from analytics_gateway.resolvers.alerts import to_alert
from analytics_gateway.schema.alerts import Alert, Severity
from analytics_gateway.schema.dashboards import KpiDirection, KpiStatus, PanelUnit
from analytics_gateway.schema.kpis import Kpi, KpiComparison, KpiInput, KpiReading
from analytics_gateway.schema.metrics import Aggregation, to_datetime
from analytics_gateway.schema.scalars import SeriesData
from analytics_gateway.services import Services


def service(info: Info) -> KpiService:
    return info.context.services.kpis


def to_kpi(definition: model.KpiDefinition) -> Kpi:
    return Kpi(
        id=strawberry.ID(definition.id),
        version=definition.version,
        name=definition.name,
        description=definition.description,
        formula=definition.formula,
        aggregation=Aggregation[definition.aggregation.name],
        unit=PanelUnit[definition.unit.upper()] if definition.unit else None,
        target=definition.target,
        direction=KpiDirection[definition.direction.name],
        comparison=KpiComparison[definition.comparison.name],
        labels=cast(JSON, dict(definition.labels)),
        updated_at=to_datetime(definition.updated_at_ms),
    )


def to_reading(value: model.KpiValue) -> KpiReading:
    return KpiReading(
        kpi=to_kpi(value.definition),
        from_=to_datetime(value.start_ms),
        to=to_datetime(value.end_ms),
        previous_from=to_datetime(value.previous_start_ms),
        previous_to=to_datetime(value.previous_end_ms),
        value=value.value,
        previous=value.previous,
        change=value.change,
        status=KpiStatus[value.status.name],
        step_ms=value.step_ms,
        series=cast(
            SeriesData, {"t": [t for t, _ in value.series], "v": [v for _, v in value.series]}
        ),
    )


def spec_of(given: KpiInput) -> model.KpiSpec:
    return model.KpiSpec(
        name=given.name,
        formula=given.formula,
        aggregation=domain.Aggregation[given.aggregation.name],
        direction=model.Direction[given.direction.name],
        unit=given.unit.name.lower() if given.unit else None,
        target=given.target,
        description=given.description,
        comparison=model.Comparison[given.comparison.name],
        labels=dict(label_filter(given.labels)),
    )


async def resolve_kpis(info: Info) -> list[Kpi]:
    tenant = info.context.require(Scope.READ).tenant
    return [to_kpi(d) for d in await service(info).definitions(tenant)]


async def resolve_kpi(
    info: Info, kpi_id: str, last: str | None, start: datetime | None, end: datetime | None
) -> KpiReading:
    principal = info.context.require(Scope.READ)
    services = info.context.services
    return to_reading(
        await reading(principal, services, kpi_id, last, start, end, info.context.loaders)
    )


async def reading(
    principal: Principal,
    services: Services,
    kpi_id: str,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
    loaders: Loaders,
) -> model.KpiValue:
    """`kpi` for an authorised caller (GraphQL and REST), read through `loaders`."""
    start_ms, end_ms = bounded_range(last, start, end, now_ms=services.clock())
    return await services.kpis.evaluate(principal.tenant, kpi_id, start_ms, end_ms, loaders)


async def resolve_create_kpi(info: Info, given: KpiInput) -> Kpi:
    tenant = info.context.require(Scope.WRITE).tenant
    return to_kpi(await service(info).create(tenant, spec_of(given)))


async def resolve_update_kpi(info: Info, kpi_id: str, version: int, given: KpiInput) -> Kpi:
    tenant = info.context.require(Scope.WRITE).tenant
    return to_kpi(await service(info).update(tenant, kpi_id, spec_of(given), version))


async def resolve_delete_kpi(info: Info, kpi_id: str) -> bool:
    principal = info.context.require(Scope.WRITE)
    await delete(principal, info.context.services, kpi_id)
    return True


async def delete(principal: Principal, services: Services, kpi_id: str) -> None:
    """`deleteKpi` for an authorised caller (GraphQL and REST): NOT_FOUND if there is none."""
    if not await services.kpis.delete(principal.tenant, kpi_id):
        raise NotFound(f"no KPI {kpi_id!r}", id=kpi_id)


async def resolve_create_kpi_alert(
    info: Info,
    kpi_id: str,
    for_: str,
    window: str,
    severity: Severity,
    channels: list[str],
    name: str | None,
) -> Alert:
    principal = info.context.require(Scope.WRITE)
    created = await create_alert(
        principal,
        info.context.services,
        kpi_id,
        for_,
        window,
        alert_model.Severity(severity.value),
        channels,
        name,
    )
    return to_alert(created, RuleState())


async def create_alert(
    principal: Principal,
    services: Services,
    kpi_id: str,
    for_: str,
    window: str,
    severity: alert_model.Severity,
    channels: list[str],
    name: str | None,
) -> alert_model.AlertRule:
    """`createKpiAlert` for an authorised caller (GraphQL and REST)."""
    definition = await services.kpis.get(principal.tenant, kpi_id)
    spec = kpi_alerts.rule_spec(definition, for_, window, severity, channels, name)
    return await services.alerts.create_rule(principal.tenant, spec, principal.key_id)
