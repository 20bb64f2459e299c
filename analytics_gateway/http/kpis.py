"""REST routes for KPIs, thin shells over the functions the GraphQL resolvers call.

- `GET /analytics/kpis`: `kpis`, as `{"kpis": [...]}`.
- `POST /analytics/kpis`: `createKpi`; the body is the `KpiInput` object; 201.
- `GET /analytics/kpis/{kpi_id}`: `kpi` (`last`, or `from`/`to`): value, previous,
  change, status and series, read through the request's loaders and the query cache.
- `PUT /analytics/kpis/{kpi_id}`: `updateKpi`; the `KpiInput` object with `version`
  (CONFLICT, 409, when someone saved since).
- `DELETE /analytics/kpis/{kpi_id}`: `deleteKpi`; 204, or 404.
- `POST /analytics/kpis/{kpi_id}/alert`: `createKpiAlert` (`for`, `window`, `severity`,
  `channels`, `name`); 201.

Answers have the GraphQL fields' keys, enums their value names, times as ISO-8601 UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from strawberry.scalars import JSON

from analytics_gateway.alerting import model as alert_model
from analytics_gateway.alerting.engine import RuleState
from analytics_gateway.alerting.expr import parse_condition
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.http import params
from analytics_gateway.http.handlers import (
    cost_header,
    guarded,
    json_object,
    json_response,
    principal_of,
    services_of,
)
from analytics_gateway.kpis import model
from analytics_gateway.resolvers import kpis as resolvers
from analytics_gateway.resolvers.alerts import format_duration
from analytics_gateway.schema.alerts import Severity
from analytics_gateway.schema.dashboards import KpiDirection, PanelUnit
from analytics_gateway.schema.kpis import KpiComparison, KpiInput
from analytics_gateway.schema.metrics import Aggregation

_INPUT = {
    "name",
    "formula",
    "aggregation",
    "direction",
    "target",
    "unit",
    "description",
    "comparison",
    "labels",
}
_ALERT = {"for", "window", "severity", "channels", "name"}


def kpi_json(definition: model.KpiDefinition) -> dict[str, Any]:
    """A KPI as the GraphQL `Kpi` type."""
    return {
        "id": definition.id,
        "version": definition.version,
        "name": definition.name,
        "description": definition.description,
        "formula": definition.formula,
        "aggregation": Aggregation(definition.aggregation.value).name,
        "unit": definition.unit.upper() if definition.unit else None,
        "target": definition.target,
        "direction": definition.direction.name,
        "comparison": definition.comparison.name,
        "labels": dict(definition.labels),
        "updatedAt": params.iso(definition.updated_at_ms),
    }


def reading_json(value: model.KpiValue) -> dict[str, Any]:
    """A KPI over a range, as the GraphQL `KpiReading` type."""
    return {
        "kpi": kpi_json(value.definition),
        "from": params.iso(value.start_ms),
        "to": params.iso(value.end_ms),
        "previousFrom": params.iso(value.previous_start_ms),
        "previousTo": params.iso(value.previous_end_ms),
        "value": value.value,
        "previous": value.previous,
        "change": value.change,
        "status": value.status.name,
        "stepMs": value.step_ms,
        "series": {"t": [t for t, _ in value.series], "v": [v for _, v in value.series]},
    }


def alert_json(rule: alert_model.AlertRule) -> dict[str, Any]:
    """A new alert rule as the GraphQL `Alert` type (no state yet)."""
    dynamic = parse_condition(rule.condition).is_dynamic
    return {
        "id": rule.id,
        "name": rule.name,
        "condition": rule.condition,
        "kind": "DYNAMIC" if dynamic else "STATIC",
        "severity": rule.severity.value,
        "for": format_duration(rule.for_ms),
        "keepFiringFor": format_duration(rule.keep_firing_for_ms),
        "interval": format_duration(rule.interval_ms),
        "channels": list(rule.channels),
        "actions": list(rule.actions),
        "labels": dict(rule.labels),
        "annotations": dict(rule.annotations),
        "enabled": rule.enabled,
        "groupBy": list(rule.group_by),
        "groupWait": format_duration(rule.group_wait_ms),
        "groupInterval": format_duration(rule.group_interval_ms),
        "repeatInterval": format_duration(rule.repeat_interval_ms),
        "version": rule.version,
        "createdAt": params.iso(rule.created_at_ms),
        "updatedAt": params.iso(rule.updated_at_ms),
        "createdBy": rule.created_by,
        "state": RuleState().state.value,
        "instances": [],
    }


def kpi_input(body: Mapping[str, Any], extra: set[str] = set()) -> KpiInput:  # noqa: B006
    """The body as the GraphQL `KpiInput` (its defaults where a key is absent)."""
    params.only(body, _INPUT | extra)
    labels = body.get("labels")
    if labels is not None and not isinstance(labels, dict):
        raise BadUserInput("labels must be an object of label name to string", field="labels")
    unit = params.text(body, "unit")
    return KpiInput(
        name=params.required(body, "name"),
        formula=params.required(body, "formula"),
        aggregation=params.choice(body, "aggregation", Aggregation, None),
        direction=params.choice(body, "direction", KpiDirection, KpiDirection.HIGHER),
        target=params.number(body, "target"),
        unit=None if unit is None else params.choice(body, "unit", PanelUnit, None),
        description=params.text(body, "description") or "",
        comparison=params.choice(body, "comparison", KpiComparison, KpiComparison.PREVIOUS_PERIOD),
        labels=cast(JSON, labels),
    )


async def list_kpis(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    found = await services_of(request).kpis.definitions(principal.tenant)
    return json_response({"kpis": [kpi_json(d) for d in found]})


async def create_kpi(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    spec = resolvers.spec_of(kpi_input(await json_object(request)))
    created = await services_of(request).kpis.create(principal.tenant, spec)
    return json_response(kpi_json(created), 201)


async def read_kpi(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    services = services_of(request)
    loaders = Loaders.for_request(services, principal.tenant)
    value = await resolvers.reading(
        principal,
        services,
        request.path_params["kpi_id"],
        *params.time_span(request.query_params),
        loaders,
    )
    return json_response(reading_json(value), headers=cost_header(loaders))


async def update_kpi(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    body = await json_object(request)
    if body.get("version") is None:
        raise BadUserInput("version: required, the version read", field="version")
    version = params.integer(body, "version", 0)
    spec = resolvers.spec_of(kpi_input(body, {"version"}))
    kpi_id = request.path_params["kpi_id"]
    updated = await services_of(request).kpis.update(principal.tenant, kpi_id, spec, version)
    return json_response(kpi_json(updated))


async def delete_kpi(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    await resolvers.delete(principal, services_of(request), request.path_params["kpi_id"])
    return Response(status_code=204)


async def create_kpi_alert(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    body = await json_object(request)
    params.only(body, _ALERT)
    severity = params.choice(body, "severity", Severity, Severity.WARNING)
    rule = await resolvers.create_alert(
        principal,
        services_of(request),
        request.path_params["kpi_id"],
        params.text(body, "for") or "1h",
        params.text(body, "window") or "1h",
        alert_model.Severity(severity.value),
        params.strings(body, "channels") or [],
        params.text(body, "name"),
    )
    return json_response(alert_json(rule), 201)


def routes() -> list[BaseRoute]:
    return [
        Route("/analytics/kpis", guarded(list_kpis), methods=["GET"]),
        Route("/analytics/kpis", guarded(create_kpi), methods=["POST"]),
        Route("/analytics/kpis/{kpi_id}", guarded(read_kpi), methods=["GET"]),
        Route("/analytics/kpis/{kpi_id}", guarded(update_kpi), methods=["PUT"]),
        Route("/analytics/kpis/{kpi_id}", guarded(delete_kpi), methods=["DELETE"]),
        Route("/analytics/kpis/{kpi_id}/alert", guarded(create_kpi_alert), methods=["POST"]),
    ]
