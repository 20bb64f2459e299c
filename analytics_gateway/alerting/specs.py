"""What users send to create or change rules and channels, checked into model objects."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from analytics_gateway.alerting.expr import Condition, parse_condition
from analytics_gateway.alerting.model import (
    LABEL_RE,
    MIN_INTERVAL_MS,
    AlertRule,
    Channel,
    ChannelKind,
    Severity,
    check_labels,
    check_name,
    check_names,
)
from analytics_gateway.alerting.templates import check_template
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput

MAX_DURATION_MS = 30 * 86_400_000
_ZERO = re.compile(r"^\s*0+(\.0*)?\s*(ms|s|m|h|d|w)?\s*$")
_EMAIL = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+$")


def duration(text: str, field_name: str, *, zero: bool = True) -> int:
    """Milliseconds of `30s`/`5m`/...; `0s` only where `zero` is allowed."""
    if zero and _ZERO.match(text):
        return 0
    ms = parse_duration_ms(text, field=field_name)
    if ms > MAX_DURATION_MS:
        raise BadUserInput(f"{field_name}: at most 30d", field=field_name)
    return ms


@dataclass(frozen=True)
class RuleSpec:
    name: str
    condition: str
    severity: Severity = Severity.WARNING
    for_: str = "0s"
    keep_firing_for: str = "0s"
    interval: str = "30s"
    channels: Sequence[str] = ()
    actions: Sequence[str] = ()
    labels: Mapping[str, Any] | None = None
    annotations: Mapping[str, Any] | None = None
    enabled: bool = True
    group_by: Sequence[str] = ()
    group_wait: str = "10s"
    group_interval: str = "1m"
    repeat_interval: str = "4h"


def build_rule(
    tenant: str, rule_id: str, spec: RuleSpec, *, now_ms: int, created_by: str
) -> tuple[AlertRule, Condition]:
    """A checked rule and its parsed condition; every problem names its field."""
    condition = parse_condition(spec.condition)
    interval = duration(spec.interval, "interval", zero=False)
    if interval < MIN_INTERVAL_MS:
        raise BadUserInput("interval: at least 1s", field="interval")
    annotations = check_labels(spec.annotations, "annotations")
    for key, text in annotations.items():
        check_template(key, text)
    group_by = tuple(dict.fromkeys(spec.group_by))
    for label in group_by:
        if not LABEL_RE.match(label):
            raise BadUserInput(f"groupBy: invalid label name {label!r}", field="groupBy")
    rule = AlertRule(
        id=rule_id,
        tenant=tenant,
        name=check_name(spec.name),
        condition=spec.condition.strip(),
        severity=spec.severity,
        for_ms=duration(spec.for_, "for"),
        keep_firing_for_ms=duration(spec.keep_firing_for, "keepFiringFor"),
        interval_ms=interval,
        channels=check_names(spec.channels, "channels"),
        actions=check_names(spec.actions, "actions"),
        labels=check_labels(spec.labels, "labels"),
        annotations=annotations,
        enabled=spec.enabled,
        group_by=group_by,
        group_wait_ms=duration(spec.group_wait, "groupWait"),
        group_interval_ms=duration(spec.group_interval, "groupInterval"),
        repeat_interval_ms=duration(spec.repeat_interval, "repeatInterval", zero=False),
        created_at_ms=now_ms,
        updated_at_ms=now_ms,
        created_by=created_by,
    )
    return rule, condition


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    kind: ChannelKind
    url: str = ""
    secret: str = ""
    timeout: str = "5s"
    max_retries: int = 2
    smtp_host: str = ""
    smtp_port: int = 25
    start_tls: bool = False
    username: str = ""
    password: str = ""
    sender: str = ""
    recipients: Sequence[str] = field(default_factory=tuple)


def build_channel(tenant: str, channel_id: str, spec: ChannelSpec) -> Channel:
    timeout = duration(spec.timeout, "timeout", zero=False)
    if timeout > 60_000:
        raise BadUserInput("timeout: at most 60s", field="timeout")
    if not 0 <= spec.max_retries <= 10:
        raise BadUserInput("maxRetries: between 0 and 10", field="maxRetries")
    if spec.kind in (ChannelKind.WEBHOOK, ChannelKind.SLACK):
        parsed = urlparse(spec.url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise BadUserInput("url: an http(s) URL is required", field="url")
    if spec.kind is ChannelKind.EMAIL:
        if not spec.smtp_host:
            raise BadUserInput("smtpHost is required for email", field="smtpHost")
        if not 0 < spec.smtp_port < 65536:
            raise BadUserInput("smtpPort: 1 to 65535", field="smtpPort")
        addresses = [spec.sender, *spec.recipients]
        if not spec.recipients or not all(_EMAIL.match(a) for a in addresses):
            raise BadUserInput(
                "sender and recipients must be email addresses (at least one recipient)",
                field="recipients",
            )
    return Channel(
        id=channel_id,
        tenant=tenant,
        name=check_name(spec.name),
        kind=spec.kind,
        url=spec.url,
        secret=spec.secret,
        timeout_ms=timeout,
        max_retries=spec.max_retries,
        smtp_host=spec.smtp_host,
        smtp_port=spec.smtp_port,
        start_tls=spec.start_tls,
        username=spec.username,
        password=spec.password,
        sender=spec.sender,
        recipients=tuple(spec.recipients),
    )
