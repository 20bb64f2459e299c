"""REST routes of the brief for dashboards, thin shells over `DashboardService`.

- `GET /analytics/dashboards`: the tenant's dashboards (definitions).
- `POST /analytics/dashboards`: create one (see `dashboards.json_input` for the body); 201.
- `GET /analytics/dashboards/{dashboard_id}`: one dashboard with every widget's
  data (`?data=false` leaves it out; `timeRange`, or `from` and `to` as ISO-8601
  times, and `var-<name>` parameters choose the view), rendered as the GraphQL
  field renders it: one call per backend, through the query cache.

What GET returns (unit and thresholds of every widget included) may be posted
back as it is: it creates the same dashboard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from analytics_gateway.dashboards import json_input
from analytics_gateway.dashboards.model import Dashboard
from analytics_gateway.dashboards.planner import absolute_range
from analytics_gateway.dashboards.results import as_json
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput, GatewayError
from analytics_gateway.http.handlers import (
    cost_header,
    guarded,
    json_body,
    json_response,
    principal_of,
    services_of,
)
from analytics_gateway.inputs import epoch_ms

VARIABLE_PREFIX = "var-"


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    return {
        "id": dashboard.id,
        "version": dashboard.version,
        "updatedAt": dashboard.updated_at_ms,
        **dashboard.spec.as_document(),
    }


def _instant(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        return epoch_ms(datetime.fromisoformat(text))
    except ValueError:
        raise BadUserInput(f"{name}: not an ISO-8601 time", field=name) from None


async def list_dashboards(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    dashboards = await services_of(request).dashboards.repository.list(principal.tenant)
    return json_response({"dashboards": [dashboard_json(d) for d in dashboards]})


async def create_dashboard(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    spec = json_input.spec(await json_body(request))
    dashboard = await services_of(request).dashboards.create(principal.tenant, spec)
    return json_response(dashboard_json(dashboard), 201)


async def get_dashboard(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    services = services_of(request)
    dashboards = services.dashboards
    dashboard = await dashboards.repository.get(
        principal.tenant, request.path_params["dashboard_id"]
    )
    body = dashboard_json(dashboard)
    params = request.query_params
    if params.get("data", "true").lower() in {"0", "false", "no"}:
        return json_response(body)
    values = {
        k[len(VARIABLE_PREFIX) :]: v for k, v in params.items() if k.startswith(VARIABLE_PREFIX)
    }
    time_range = params.get("timeRange")
    absolute = absolute_range(
        _instant(params.get("from"), "from"), _instant(params.get("to"), "to"), time_range
    )
    view = dashboards.view(dashboard, principal.tenant, time_range, values, absolute)
    loaders = Loaders.for_request(services, principal.tenant)
    rendered = await dashboards.render_all(dashboard.spec.widgets, view, loaders)
    for widget, answer in zip(body["widgets"], rendered, strict=True):
        if isinstance(answer, GatewayError):
            widget["data"] = None
            widget["error"] = {"message": answer.message, **answer.as_extensions()}
        elif isinstance(answer, Exception):
            raise answer
        else:
            widget["data"] = as_json(answer)
    return json_response(body, headers=cost_header(loaders))


def routes() -> list[BaseRoute]:
    return [
        Route("/analytics/dashboards", guarded(list_dashboards), methods=["GET"]),
        Route("/analytics/dashboards", guarded(create_dashboard), methods=["POST"]),
        Route("/analytics/dashboards/{dashboard_id}", guarded(get_dashboard), methods=["GET"]),
    ]
