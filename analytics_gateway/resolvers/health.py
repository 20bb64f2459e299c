"""Resolvers for self-monitoring: the health alert rules of the operator tenant."""

from __future__ import annotations

from analytics_gateway.alerting.engine import RuleState
from analytics_gateway.context import Info
from analytics_gateway.operator import require_operator
from analytics_gateway.resolvers.alerts import to_alert
from analytics_gateway.schema.alerts import Alert
from analytics_gateway.self_monitoring.health_alerts import enable_health_alerts


async def resolve_enable_health_alerts(info: Info, channels: list[str] | None) -> list[Alert]:
    services = info.context.services
    principal = require_operator(info.context.principal, services.settings)
    rules = await enable_health_alerts(
        services.alerts, principal.tenant, channels, principal.key_id
    )
    states = await services.alerts.states(principal.tenant)
    return [to_alert(rule, states.get(rule.id, RuleState())) for rule in rules]
