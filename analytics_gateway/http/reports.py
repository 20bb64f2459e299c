"""REST routes for reports, thin shells over the functions the GraphQL resolvers call.

- `GET /analytics/reports`: `reports`, as `{"reports": [...]}`.
- `POST /analytics/reports`: `createReport`; the body is the `ReportInput` object; 201.
- `GET /analytics/reports/{report_id}`: `report`.
- `PUT /analytics/reports/{report_id}`: `updateReport`; the `ReportInput` object with
  `version` (CONFLICT, 409, when someone saved since).
- `DELETE /analytics/reports/{report_id}`: `deleteReport`; 204, or 404.
- `POST /analytics/reports/{report_id}/generate`: `generateReport` (`from`/`to` or
  `period`, in a JSON body or the query string) as JSON: the period, KPI values,
  insights and the HTML; the PDF is left out (see the next route).
- `GET /analytics/reports/{report_id}/pdf`: the report generated now as a PDF
  (`application/pdf`, as an attachment), over `from` and `to` (ISO-8601 times,
  both or neither) or its last complete period.

Every route takes the tenant's key (read scope, write to change); answers have the
GraphQL fields' keys, enums their value names, times as ISO-8601 UTC; errors are
JSON with `extensions.code`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.http import params
from analytics_gateway.http.handlers import (
    guarded,
    json_body,
    json_object,
    json_response,
    principal_of,
    services_of,
)
from analytics_gateway.reports import model
from analytics_gateway.reports.schedule import parse_schedule
from analytics_gateway.reports.service import Generated
from analytics_gateway.resolvers import reports as resolvers
from analytics_gateway.schema.metrics import Aggregation
from analytics_gateway.schema.reports import (
    ReportInput,
    ReportPanelInput,
    ReportPeriod,
    ReportWindow,
)

_INPUT = {"name", "kpis", "panels", "period", "schedule", "recipients"}
_PANEL = {"metric", "labels", "aggregation", "groupBy", "title"}
_GENERATE = {"from", "to", "period"}


def report_json(report: model.Report, now_ms: int) -> dict[str, Any]:
    """A report as the GraphQL `Report` type."""
    spec = report.spec
    next_run = parse_schedule(spec.schedule).next_run(now_ms) if spec.schedule else None
    return {
        "id": report.id,
        "version": report.version,
        "name": spec.name,
        "kpis": list(spec.kpis),
        "panels": [
            {
                "metric": p.name,
                "labels": dict(p.labels),
                "aggregation": Aggregation(p.aggregation.value).name,
                "groupBy": list(p.group_by) if p.group_by is not None else None,
                "title": p.subject,
            }
            for p in spec.panels
        ],
        "period": spec.period.name,
        "schedule": spec.schedule,
        "timeZone": spec.time_zone,
        "recipients": list(spec.recipients),
        "nextRunAt": params.iso(next_run) if next_run is not None else None,
        "createdAt": params.iso(report.created_at_ms),
        "updatedAt": params.iso(report.updated_at_ms),
    }


def generated_json(generated: Generated) -> dict[str, Any]:
    """A generated report as the GraphQL `GeneratedReport` type, without `pdf`."""
    return {
        "reportId": generated.report.id,
        "name": generated.report.spec.name,
        "from": params.iso(generated.start_ms),
        "to": params.iso(generated.end_ms),
        "previousFrom": params.iso(generated.previous_start_ms),
        "previousTo": params.iso(generated.previous_end_ms),
        "periodText": generated.period_text,
        "kpis": [
            {
                "id": v.definition.id,
                "name": v.definition.name,
                "unit": v.definition.unit,
                "value": v.value,
                "previous": v.previous,
                "change": v.change,
                "target": v.definition.target,
                "status": v.status.name,
            }
            for v in generated.kpis
        ],
        "insights": [
            {
                "kind": i.kind.name,
                "subject": i.subject,
                "sentence": i.sentence,
                "figures": i.figures,
            }
            for i in generated.insights
        ],
        "html": generated.html,
        "pdfBytes": len(generated.pdf),
    }


def _panel(raw: Any, index: int) -> ReportPanelInput:
    def bad(message: str) -> BadUserInput:
        return BadUserInput(f"panel {index}: {message}", field="panels", index=index)

    if not isinstance(raw, Mapping):
        raise bad("must be an object")
    unknown = set(raw) - _PANEL
    if unknown:
        raise bad(f"unknown field(s): {', '.join(sorted(unknown))}")
    try:
        metric = params.required(raw, "metric")
        aggregation = params.choice(raw, "aggregation", Aggregation, Aggregation.SUM)
        group_by = params.strings(raw, "groupBy")
        title = params.text(raw, "title")
    except BadUserInput as exc:
        raise bad(exc.message) from None
    return ReportPanelInput(
        metric=metric,
        labels=raw.get("labels"),
        aggregation=aggregation,
        group_by=group_by,
        title=title,
    )


def report_input(body: Mapping[str, Any], extra: set[str] = set()) -> ReportInput:  # noqa: B006
    """The body as the GraphQL `ReportInput` (its defaults where a key is absent)."""
    params.only(body, _INPUT | extra)
    panels = body.get("panels") or []
    if not isinstance(panels, list):
        raise BadUserInput("panels: must be a list of objects", field="panels")
    return ReportInput(
        name=params.required(body, "name"),
        kpis=params.strings(body, "kpis") or [],  # type: ignore[arg-type]
        panels=[_panel(p, i) for i, p in enumerate(panels)],
        period=params.choice(body, "period", ReportPeriod, ReportPeriod.WEEK),
        schedule=params.text(body, "schedule"),
        recipients=params.strings(body, "recipients") or [],  # type: ignore[arg-type]
    )


async def list_reports(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    services = services_of(request)
    found = await services.reports.repository.list(principal.tenant)
    now = services.clock()
    return json_response({"reports": [report_json(r, now) for r in found]})


async def create_report(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    spec = resolvers.spec_from_input(report_input(await json_object(request)))
    services = services_of(request)
    report = await services.reports.create(principal.tenant, spec)
    return json_response(report_json(report, services.clock()), 201)


async def read_report(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    services = services_of(request)
    report_id = request.path_params["report_id"]
    report = await services.reports.repository.get(principal.tenant, report_id)
    return json_response(report_json(report, services.clock()))


async def update_report(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    body = await json_object(request)
    if body.get("version") is None:
        raise BadUserInput("version: required, the version read", field="version")
    version = params.integer(body, "version", 0)
    spec = resolvers.spec_from_input(report_input(body, {"version"}))
    services = services_of(request)
    report_id = request.path_params["report_id"]
    report = await services.reports.update(principal.tenant, report_id, spec, version)
    return json_response(report_json(report, services.clock()))


async def delete_report(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    await resolvers.delete(principal, services_of(request), request.path_params["report_id"])
    return Response(status_code=204)


async def generate_report(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    given: Mapping[str, Any] = request.query_params
    if await request.body():
        body = await json_body(request)
        if not isinstance(body, dict):
            raise BadUserInput("body must be a JSON object")
        given = {**request.query_params, **body}
    params.only(given, _GENERATE)
    period = (
        None if given.get("period") is None else params.choice(given, "period", ReportWindow, None)
    )
    found = await resolvers.generate(
        principal,
        services_of(request),
        request.path_params["report_id"],
        params.moment(given, "from"),
        params.moment(given, "to"),
        period,
    )
    return json_response(generated_json(found))


async def report_pdf(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    given = request.query_params
    generated = await resolvers.generate(
        principal,
        services_of(request),
        request.path_params["report_id"],
        params.moment(given, "from"),
        params.moment(given, "to"),
        None,
    )
    return Response(
        generated.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="report-{generated.report.id}.pdf"'},
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/analytics/reports", guarded(list_reports), methods=["GET"]),
        Route("/analytics/reports", guarded(create_report), methods=["POST"]),
        Route("/analytics/reports/{report_id}", guarded(read_report), methods=["GET"]),
        Route("/analytics/reports/{report_id}", guarded(update_report), methods=["PUT"]),
        Route("/analytics/reports/{report_id}", guarded(delete_report), methods=["DELETE"]),
        Route(
            "/analytics/reports/{report_id}/generate", guarded(generate_report), methods=["POST"]
        ),
        Route("/analytics/reports/{report_id}/pdf", guarded(report_pdf), methods=["GET"]),
    ]
