"""Resolvers for reports: authorise, turn inputs into the model, call `ReportService`."""

from __future__ import annotations

import base64
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from analytics_gateway import domain
from analytics_gateway.context import Info
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.errors import BadUserInput, NotFound
from analytics_gateway.inputs import bounded_range, label_filter
from analytics_gateway.reports import model
from analytics_gateway.reports.schedule import Period, parse_schedule
from analytics_gateway.reports.service import Generated, ReportService
from analytics_gateway.schema.metrics import Aggregation, to_datetime
from analytics_gateway.schema.reports import (
    GeneratedReport,
    InsightKind,
    Report,
    ReportInput,
    ReportInsight,
    ReportKpiValue,
    ReportPanel,
    ReportPeriod,
    ReportWindow,
)
from analytics_gateway.services import Services


def service(info: Info) -> ReportService:
    return info.context.services.reports


# -- model -> GraphQL ----------------------------------------------------------------


def to_report(report: model.Report, now_ms: int) -> Report:
    spec = report.spec
    next_run = parse_schedule(spec.schedule).next_run(now_ms) if spec.schedule else None
    return Report(
        id=strawberry.ID(report.id),
        version=report.version,
        name=spec.name,
        kpis=[strawberry.ID(k) for k in spec.kpis],
        panels=[
            ReportPanel(
                metric=p.name,
                labels=dict(p.labels),  # type: ignore[arg-type]
                aggregation=Aggregation(p.aggregation.value),
                group_by=list(p.group_by) if p.group_by is not None else None,
                title=p.subject,
            )
            for p in spec.panels
        ],
        period=ReportPeriod[spec.period.name],
        schedule=spec.schedule,
        time_zone=spec.time_zone,
        recipients=[strawberry.ID(r) for r in spec.recipients],
        next_run_at=to_datetime(next_run) if next_run is not None else None,
        created_at=to_datetime(report.created_at_ms),
        updated_at=to_datetime(report.updated_at_ms),
    )


def to_generated(generated: Generated) -> GeneratedReport:
    return GeneratedReport(
        report_id=strawberry.ID(generated.report.id),
        name=generated.report.spec.name,
        from_=to_datetime(generated.start_ms),
        to=to_datetime(generated.end_ms),
        previous_from=to_datetime(generated.previous_start_ms),
        previous_to=to_datetime(generated.previous_end_ms),
        period_text=generated.period_text,
        kpis=[
            ReportKpiValue(
                id=strawberry.ID(v.definition.id),
                name=v.definition.name,
                unit=v.definition.unit,
                value=v.value,
                previous=v.previous,
                change=v.change,
                target=v.definition.target,
                status=v.status.name,
            )
            for v in generated.kpis
        ],
        insights=[
            ReportInsight(
                kind=InsightKind[i.kind.name],
                subject=i.subject,
                sentence=i.sentence,
                figures=i.figures,  # type: ignore[arg-type]
            )
            for i in generated.insights
        ],
        html=generated.html,
        pdf=base64.b64encode(generated.pdf).decode(),
        pdf_bytes=len(generated.pdf),
    )


# -- inputs -> model -----------------------------------------------------------------


def _labels(raw: JSON | None, index: int) -> dict[str, str]:
    try:
        return dict(label_filter(raw, "labels"))
    except BadUserInput as exc:
        raise BadUserInput(f"panel {index}: {exc.message}", field="panels", index=index) from None


def spec_from_input(given: ReportInput) -> model.ReportSpec:
    return model.ReportSpec(
        name=given.name,
        kpis=tuple(str(k) for k in given.kpis),
        panels=tuple(
            model.ReportPanel(
                name=p.metric,
                labels=_labels(p.labels, index),
                aggregation=domain.Aggregation(p.aggregation.value),
                group_by=tuple(p.group_by) if p.group_by is not None else None,
                title=p.title or "",
            )
            for index, p in enumerate(given.panels)
        ),
        period=Period[given.period.name],
        schedule=given.schedule,
        recipients=tuple(str(r) for r in given.recipients),
    )


# -- queries and mutations -----------------------------------------------------------


async def resolve_reports(info: Info) -> list[Report]:
    tenant = info.context.require(Scope.READ).tenant
    now = info.context.services.clock()
    return [to_report(r, now) for r in await service(info).repository.list(tenant)]


async def resolve_report(info: Info, report_id: str) -> Report:
    tenant = info.context.require(Scope.READ).tenant
    report = await service(info).repository.get(tenant, report_id)
    return to_report(report, info.context.services.clock())


async def resolve_generate(
    info: Info,
    report_id: str,
    start: datetime | None,
    end: datetime | None,
    period: ReportWindow | None,
) -> GeneratedReport:
    principal = info.context.require(Scope.READ)
    found = await generate(principal, info.context.services, report_id, start, end, period)
    return to_generated(found)


async def generate(
    principal: Principal,
    services: Services,
    report_id: str,
    start: datetime | None,
    end: datetime | None,
    period: ReportWindow | None,
) -> Generated:
    """`generateReport` for an authorised caller (GraphQL and REST)."""
    span = None
    if start is not None or end is not None:
        if start is None or end is None:
            raise BadUserInput(
                "give both from and to, or neither", field="from" if start is None else "to"
            )
        if period is not None:
            raise BadUserInput("give period or from/to, not both", field="period")
        span = bounded_range(None, start, end, now_ms=services.clock())
    return await services.reports.generate(principal.tenant, report_id, span)


async def resolve_create(info: Info, given: ReportInput) -> Report:
    tenant = info.context.require(Scope.WRITE).tenant
    report = await service(info).create(tenant, spec_from_input(given))
    return to_report(report, info.context.services.clock())


async def resolve_update(info: Info, report_id: str, version: int, given: ReportInput) -> Report:
    tenant = info.context.require(Scope.WRITE).tenant
    report = await service(info).update(tenant, report_id, spec_from_input(given), version)
    return to_report(report, info.context.services.clock())


async def resolve_delete(info: Info, report_id: str) -> bool:
    principal = info.context.require(Scope.WRITE)
    await delete(principal, info.context.services, report_id)
    return True


async def delete(principal: Principal, services: Services, report_id: str) -> None:
    """`deleteReport` for an authorised caller (GraphQL and REST): NOT_FOUND if there is none."""
    if not await services.reports.delete(principal.tenant, report_id):
        raise NotFound(f"no report {report_id[:100]!r}", id=report_id[:100])
