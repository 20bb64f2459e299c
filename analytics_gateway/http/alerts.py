"""REST routes of the brief for alerts, thin shells over `AlertService`.

- `GET /analytics/alerts`: the tenant's alerts with their state (`?state=FIRING`).
- `POST /analytics/alerts`: create one; 201. Body (camelCase, as in GraphQL):
  `{"name", "condition", "severity", "for", "keepFiringFor", "interval",
  "channels", "actions", "labels", "annotations", "enabled", "groupBy",
  "groupWait", "groupInterval", "repeatInterval"}`.
- `PUT /analytics/alerts/{alert_id}`: replace one (optional `"version"`: CONFLICT
  if it changed since).
- `DELETE /analytics/alerts/{alert_id}`: 204, or 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from analytics_gateway.alerting.engine import RuleState
from analytics_gateway.alerting.model import AlertRule, Severity
from analytics_gateway.alerting.specs import RuleSpec
from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput, NotFound
from analytics_gateway.http.handlers import (
    guarded,
    json_body,
    json_response,
    principal_of,
    services_of,
)

_TEXT = ("for", "keepFiringFor", "interval", "groupWait", "groupInterval", "repeatInterval")
_LISTS = ("channels", "actions", "groupBy")
_KNOWN = {"name", "condition", "severity", "labels", "annotations", "enabled", "version"}


def rule_spec(body: Any) -> RuleSpec:
    if not isinstance(body, Mapping):
        raise BadUserInput("body must be a JSON object")
    unknown = set(body) - _KNOWN - set(_TEXT) - set(_LISTS)
    if unknown:
        raise BadUserInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    for key in ("name", "condition", *(k for k in _TEXT if k in body)):
        if not isinstance(body.get(key), str):
            raise BadUserInput(f"{key} must be a string", field=key)
    for key in _LISTS:
        value = body.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadUserInput(f"{key} must be a list of strings", field=key)
    try:
        severity = Severity(str(body.get("severity", "WARNING")).upper())
    except ValueError:
        raise BadUserInput("severity must be INFO, WARNING or CRITICAL", field="severity") from None
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadUserInput("enabled must be true or false", field="enabled")
    defaults = RuleSpec("", "")
    return RuleSpec(
        name=body["name"],
        condition=body["condition"],
        severity=severity,
        for_=body.get("for", defaults.for_),
        keep_firing_for=body.get("keepFiringFor", defaults.keep_firing_for),
        interval=body.get("interval", defaults.interval),
        channels=body.get("channels", []),
        actions=body.get("actions", []),
        labels=body.get("labels"),
        annotations=body.get("annotations"),
        enabled=enabled,
        group_by=body.get("groupBy", []),
        group_wait=body.get("groupWait", defaults.group_wait),
        group_interval=body.get("groupInterval", defaults.group_interval),
        repeat_interval=body.get("repeatInterval", defaults.repeat_interval),
    )


def alert_json(rule: AlertRule, state: RuleState) -> dict[str, Any]:
    return {
        "id": rule.id,
        "version": rule.version,
        **{k: v for k, v in rule.to_document().items() if k != "id"},
        "state": state.state.value,
        "instances": [
            {"labels": i.labels, "state": i.state.value, "value": i.value, "since": i.since_ms}
            for i in state.instances.values()
        ],
    }


async def list_alerts(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    alerts = services_of(request).alerts
    states = await alerts.states(principal.tenant)
    wanted = request.query_params.get("state")
    out = [
        alert_json(r, states.get(r.id, RuleState())) for r in await alerts.rules(principal.tenant)
    ]
    if wanted:
        out = [a for a in out if a["state"] == wanted.upper()]
    return json_response({"alerts": out})


async def create_alert(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    spec = rule_spec(await json_body(request))
    rule = await services_of(request).alerts.create_rule(principal.tenant, spec, principal.key_id)
    return json_response(alert_json(rule, RuleState()), 201)


async def update_alert(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    body = await json_body(request)
    version = body.get("version") if isinstance(body, Mapping) else None
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise BadUserInput("version must be an integer", field="version")
    alert_id = request.path_params["alert_id"]
    alerts = services_of(request).alerts
    rule = await alerts.update_rule(principal.tenant, alert_id, rule_spec(body), version)
    return json_response(alert_json(rule, await alerts.state(principal.tenant, alert_id)))


async def delete_alert(request: Request) -> Response:
    principal = await principal_of(request, Scope.WRITE)
    alert_id = request.path_params["alert_id"]
    if not await services_of(request).alerts.delete_rule(principal.tenant, alert_id):
        raise NotFound(f"no alert {alert_id!r}", id=alert_id)
    return Response(status_code=204)


def routes() -> list[BaseRoute]:
    return [
        Route("/analytics/alerts", guarded(list_alerts), methods=["GET"]),
        Route("/analytics/alerts", guarded(create_alert), methods=["POST"]),
        Route("/analytics/alerts/{alert_id}", guarded(update_alert), methods=["PUT"]),
        Route("/analytics/alerts/{alert_id}", guarded(delete_alert), methods=["DELETE"]),
    ]
