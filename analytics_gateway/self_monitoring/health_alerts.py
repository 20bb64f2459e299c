"""The alert rules `enableHealthAlerts` creates in the operator tenant.

They read what self-monitoring writes (`series`), so they watch every gateway
(by `instance`) and every host, the gateways' own and the agents' (by
`host`). Each has a fixed id, so enabling them again, or from two replicas at
once, never makes a second copy: a rule already there is kept as it is (with
whatever an operator changed in it), except that `channels`, when given,
replace its channels.

| id | condition | for |
| --- | --- | --- |
| gateway-error-rate | over 5% of requests fail on the gateway's side (5m average) | 5m |
| gateway-latency-p95 | GraphQL p95 latency above 1 s (5m average) | 10m |
| gateway-buffer-backlog | the buffer held entries for 10m, and holds more than its 10m mean | 5m |
| host-cpu | a host's CPU above 90% | 10m |
| host-memory | a host's memory above 90% | 5m |
| gateway-alert-lag | alert evaluation more than 30 s late | 5m |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from analytics_gateway.alerting.model import AlertRule, Severity
from analytics_gateway.alerting.service import AlertService
from analytics_gateway.alerting.specs import RuleSpec
from analytics_gateway.errors import Conflict
from analytics_gateway.self_monitoring import series

HEALTH_LABELS = {"source": "self-monitoring"}
"""On every health rule, so one silence matcher can mute them all."""


@dataclass(frozen=True)
class HealthRule:
    id: str
    spec: RuleSpec


def _rule(
    rule_id: str, name: str, condition: str, for_: str, severity: Severity, summary: str
) -> HealthRule:
    return HealthRule(
        rule_id,
        RuleSpec(
            name=name,
            condition=condition,
            severity=severity,
            for_=for_,
            labels=HEALTH_LABELS,
            annotations={"summary": summary},
        ),
    )


HEALTH_RULES = (
    _rule(
        "gateway-error-rate",
        "Gateway error rate high",
        f"avg({series.ERROR_RATIO}[5m]) > 0.05",
        "5m",
        Severity.CRITICAL,
        "{{ $labels.instance }}: a share of {{ $value }} of requests fail on the gateway's side",
    ),
    _rule(
        "gateway-latency-p95",
        "Gateway p95 latency high",
        f"avg({series.LATENCY_P95}[5m]) > 1000",
        "10m",
        Severity.WARNING,
        "{{ $labels.instance }}: GraphQL p95 latency is {{ $value }} ms",
    ),
    _rule(
        "gateway-buffer-backlog",
        "Ingest buffer backlog growing",
        f"min({series.BUFFER_ENTRIES}[10m]) > 0 and "
        f"last({series.BUFFER_ENTRIES}[10m]) > avg({series.BUFFER_ENTRIES}[10m])",
        "5m",
        Severity.WARNING,
        "{{ $labels.instance }}: {{ $value }} batches wait in the ingest buffer, and more "
        "arrive than the store takes",
    ),
    _rule(
        "host-cpu",
        "Host CPU high",
        f"avg({series.CPU_USAGE}[1m]) > 90",
        "10m",
        Severity.WARNING,
        "{{ $labels.host }}: CPU at {{ $value }}%",
    ),
    _rule(
        "host-memory",
        "Host memory high",
        f"avg({series.MEMORY_USAGE}[1m]) > 90",
        "5m",
        Severity.WARNING,
        "{{ $labels.host }}: memory at {{ $value }}%",
    ),
    _rule(
        "gateway-alert-lag",
        "Alert evaluation lagging",
        f"max({series.ALERT_LAG}[5m]) > 30",
        "5m",
        Severity.WARNING,
        "{{ $labels.instance }}: alert rules are evaluated {{ $value }} s late",
    ),
)


def _ms(value: int) -> str:
    return f"{value}ms"


def spec_of(rule: AlertRule) -> RuleSpec:
    """The spec that builds `rule` again (to change one part of it)."""
    return RuleSpec(
        name=rule.name,
        condition=rule.condition,
        severity=rule.severity,
        for_=_ms(rule.for_ms),
        keep_firing_for=_ms(rule.keep_firing_for_ms),
        interval=_ms(rule.interval_ms),
        channels=rule.channels,
        actions=rule.actions,
        labels=rule.labels,
        annotations=rule.annotations,
        enabled=rule.enabled,
        group_by=rule.group_by,
        group_wait=_ms(rule.group_wait_ms),
        group_interval=_ms(rule.group_interval_ms),
        repeat_interval=_ms(rule.repeat_interval_ms),
    )


async def enable_health_alerts(
    alerts: AlertService, tenant: str, channels: Sequence[str] | None, created_by: str
) -> list[AlertRule]:
    """Create the health rules `tenant` lacks; give them all `channels` if given."""
    wanted = None if channels is None else tuple(dict.fromkeys(channels))
    out: list[AlertRule] = []
    for health in HEALTH_RULES:
        existing = await alerts.docs.rule(tenant, health.id)
        if existing is None:
            spec = health.spec if wanted is None else replace(health.spec, channels=wanted)
            try:
                out.append(await alerts.create_rule(tenant, spec, created_by, rule_id=health.id))
                continue
            except Conflict:  # made meanwhile, by another call or replica
                existing = await alerts.rule(tenant, health.id)
        if wanted is not None and existing.channels != wanted:
            changed = replace(spec_of(existing), channels=wanted)
            existing = await alerts.update_rule(tenant, health.id, changed, existing.version)
        out.append(existing)
    return out
