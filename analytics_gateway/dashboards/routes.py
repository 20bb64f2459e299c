"""REST routes of the brief for dashboards, thin shells over the same repository and planner.

- `GET /analytics/dashboards`: the tenant's dashboards (definitions).
- `POST /analytics/dashboards`: create one (see `json_input` for the body); 201.
- `GET /analytics/dashboards/{dashboard_id}`: one dashboard with every widget's
  data (`?data=false` leaves it out; `timeRange` and `var-<name>` parameters
  choose the view), read in one batch: one call per backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from analytics_gateway.dashboards import json_input, panels, planner
from analytics_gateway.dashboards.model import Dashboard
from analytics_gateway.dashboards.repository import DashboardRepository
from analytics_gateway.dashboards.results import as_json
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Scope
from analytics_gateway.errors import GatewayError
from analytics_gateway.rest import Handler, guarded, json_body, json_response, principal_of
from analytics_gateway.services import Services

VARIABLE_PREFIX = "var-"


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    return {
        "id": dashboard.id,
        "version": dashboard.version,
        "updatedAt": dashboard.updated_at_ms,
        **dashboard.spec.as_document(),
    }


class DashboardRoutes:
    def __init__(self, services: Callable[[], Services]) -> None:
        self._services = services

    def handlers(self) -> dict[str, Handler]:
        return {
            "list": guarded(self.list),
            "create": guarded(self.create),
            "get": guarded(self.get),
        }

    def _repository(self) -> DashboardRepository:
        return DashboardRepository(self._services().backends.config)

    async def list(self, request: Request) -> Response:
        principal = await principal_of(self._services(), request, Scope.READ)
        dashboards = await self._repository().list(principal.tenant)
        return json_response({"dashboards": [dashboard_json(d) for d in dashboards]})

    async def create(self, request: Request) -> Response:
        principal = await principal_of(self._services(), request, Scope.WRITE)
        body = await json_body(request)
        dashboard = await self._repository().create(principal.tenant, json_input.spec(body))
        return json_response(dashboard_json(dashboard), 201)

    async def get(self, request: Request) -> Response:
        services = self._services()
        principal = await principal_of(services, request, Scope.READ)
        dashboard = await self._repository().get(
            principal.tenant, request.path_params["dashboard_id"]
        )
        body = dashboard_json(dashboard)
        params = request.query_params
        if params.get("data", "true").lower() in {"0", "false", "no"}:
            return json_response(body)
        values = {
            k[len(VARIABLE_PREFIX) :]: v for k, v in params.items() if k.startswith(VARIABLE_PREFIX)
        }
        spec = dashboard.spec
        view = planner.make_view(
            principal.tenant, params.get("timeRange") or spec.time_range, spec.variables, values
        )
        backends = services.backends
        loaders = Loaders.create(backends.metrics, backends.events, backends.prometheus)
        features = panels.Features.of(services)
        answers = await asyncio.gather(
            *(panels.widget_data(w, view, loaders, features) for w in spec.widgets),
            return_exceptions=True,
        )
        for widget, answer in zip(body["widgets"], answers, strict=True):
            if isinstance(answer, GatewayError):
                widget["data"] = None
                widget["error"] = {"message": answer.message, **answer.as_extensions()}
            elif isinstance(answer, BaseException):
                raise answer
            else:
                widget["data"] = as_json(answer)
        return json_response(body)
