"""Notifications: what one group flush sends to one channel or action. Pure.

A notification's id is a hash of (tenant, rule, group, flush number, target),
so evaluating the same transition twice (after a crash, or on two replicas
during a lease hand-over) yields the same id, and the create-only outbox
keeps one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analytics_gateway.alerting.grouping import Flush
from analytics_gateway.alerting.model import AlertRule
from analytics_gateway.alerting.state import AlertState, Instance
from analytics_gateway.alerting.templates import render_all


def notification_id(tenant: str, rule_id: str, group_key: str, seq: int, target: str) -> str:
    raw = "\x1f".join((tenant, rule_id, group_key, str(seq), target))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Target:
    name: str
    is_action: bool


def alert_item(rule: AlertRule, instance: Instance, firing: bool) -> dict[str, Any]:
    labels = rule.full_labels(instance.labels)
    return {
        "status": "firing" if firing else "resolved",
        "state": instance.state.value,
        "labels": labels,
        "annotations": render_all(
            rule.annotations,
            value=instance.value,
            labels=labels,
            name=rule.name,
            severity=rule.severity.value,
            state=instance.state.value,
        ),
        "value": instance.value,
        "startsAt": instance.fired_at_ms,
        "endsAt": None if firing else instance.since_ms,
    }


def targets(rule: AlertRule, flush: Flush, newly_firing: bool) -> list[Target]:
    """Channels get every flush; actions run only when an instance newly fires."""
    out = [Target(name, False) for name in rule.channels]
    if newly_firing and not flush.repeat:
        out += [Target(name, True) for name in rule.actions if name not in rule.channels]
    return out


def build(
    rule: AlertRule,
    flush: Flush,
    instances: Mapping[str, Instance],
    newly_firing: bool,
    now_ms: int,
) -> list[dict[str, Any]]:
    """One notification document per target of the rule."""
    alerts = [alert_item(rule, instances[k], True) for k in flush.firing if k in instances]
    for key in flush.resolved:
        instance = instances.get(key)
        if instance is None:
            # its series went away and the rule forgot it; the key is its labels, and
            # a resolve must still say what resolved
            instance = Instance(key, json.loads(key), AlertState.NODATA, since_ms=now_ms)
        if instance.state is not AlertState.FIRING:
            alerts.append(alert_item(rule, instance, False))
    status = "firing" if flush.firing else "resolved"
    out = []
    for target in targets(rule, flush, newly_firing):
        out.append(
            {
                "id": notification_id(
                    rule.tenant, rule.id, flush.group_key, flush.seq, target.name
                ),
                "tenant": rule.tenant,
                "alertId": rule.id,
                "alertName": rule.name,
                "severity": rule.severity.value,
                "status": status,
                "groupKey": flush.group_key,
                "groupLabels": flush.group_labels,
                "repeat": flush.repeat,
                "alerts": alerts,
                "target": target.name,
                "action": target.is_action,
                "createdAt": now_ms,
            }
        )
    return out


def summary(notification: Mapping[str, Any]) -> str:
    """One line for chat messages and mail subjects."""
    firing = sum(1 for a in notification["alerts"] if a["status"] == "firing")
    resolved = len(notification["alerts"]) - firing
    parts = [f"[{notification['status'].upper()}] {notification['alertName']}"]
    parts.append(f"({notification['severity']})")
    if firing:
        parts.append(f"{firing} firing")
    if resolved:
        parts.append(f"{resolved} resolved")
    if notification.get("action"):
        parts.append(f"action {notification['target']}")
    return " ".join(parts)
