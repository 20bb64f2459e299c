"""GraphQL inputs for alerting."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from analytics_gateway.schema.alerts import ChannelKind, MatchOperator, Severity


@strawberry.input(description="An alert rule. Durations are written like 30s, 5m, 1h.")
class AlertRuleInput:
    name: str = strawberry.field(description="Name; also the alertname label.")
    condition: str = strawberry.field(
        description='The condition, e.g. "error_rate > 0.05", '
        '"avg(cpu_usage{host=\\"a\\"}[5m]) > 90", "errors / requests > 0.05" or '
        '"cpu_usage outside band(7d, sensitivity=high)". A syntax error names the column '
        "and what was expected."
    )
    severity: Severity = strawberry.field(default=Severity.WARNING, description="Severity.")
    for_: str = strawberry.field(
        default="0s", name="for", description="How long the condition must hold to fire."
    )
    keep_firing_for: str = strawberry.field(
        default="0s", description="Keep firing this long after the condition stops holding."
    )
    interval: str = strawberry.field(
        default="30s", description="Evaluation interval (rules also run when their metrics arrive)."
    )
    channels: list[str] = strawberry.field(
        default_factory=list, description="Channel names notified on fire and resolve."
    )
    actions: list[str] = strawberry.field(
        default_factory=list,
        description="Action names (webhook channels, e.g. scale_up) run when it fires.",
    )
    labels: JSON | None = strawberry.field(
        default=None, description="Labels added to its alerts (for silences and grouping)."
    )
    annotations: JSON | None = strawberry.field(
        default=None,
        description="Texts with {{ $value }}, {{ $labels.<name> }}, {{ $name }}, "
        "{{ $severity }}, {{ $state }} filled in.",
    )
    enabled: bool = strawberry.field(default=True, description="Evaluate it.")
    group_by: list[str] = strawberry.field(
        default_factory=list,
        description="Labels whose values split notifications into groups; none: one group.",
    )
    group_wait: str = strawberry.field(
        default="10s", description="Wait before a new group's first notification."
    )
    group_interval: str = strawberry.field(
        default="1m", description="Minimum time between two notifications of a group."
    )
    repeat_interval: str = strawberry.field(
        default="4h", description="Re-send an unchanged firing group after this long."
    )


@strawberry.input(description="One label condition of a silence.")
class MatcherInput:
    label: str = strawberry.field(description="Label name, e.g. alertname or host.")
    value: str = strawberry.field(description="Value, or a regular expression.")
    operator: MatchOperator = strawberry.field(
        default=MatchOperator.EQUAL, description="How to compare."
    )


@strawberry.input(description="A silence. Give endsAt or duration.")
class SilenceInput:
    matchers: list[MatcherInput] = strawberry.field(description="All must match.")
    starts_at: datetime | None = strawberry.field(default=None, description="Default: now.")
    ends_at: datetime | None = strawberry.field(default=None, description="End.")
    duration: str | None = strawberry.field(
        default=None, description='Instead of endsAt: how long from the start, e.g. "2h".'
    )
    comment: str = strawberry.field(default="", description="Why.")


@strawberry.input(description="A notification channel; give the fields its kind needs.")
class ChannelInput:
    name: str = strawberry.field(description="Name that rules use in channels / actions.")
    kind: ChannelKind = strawberry.field(description="webhook, slack or email.")
    url: str = strawberry.field(default="", description="Target URL (webhook, Slack).")
    secret: str = strawberry.field(
        default="",
        description="Webhook signing key (HMAC-SHA256); kept when an update leaves it empty.",
    )
    timeout: str = strawberry.field(default="5s", description="Per-attempt timeout (max 60s).")
    max_retries: int = strawberry.field(default=2, description="Immediate retries (0-10).")
    smtp_host: str = strawberry.field(default="", description="SMTP server (email).")
    smtp_port: int = strawberry.field(default=25, description="SMTP port (email).")
    start_tls: bool = strawberry.field(default=False, description="Use STARTTLS (email).")
    username: str = strawberry.field(default="", description="SMTP login (email).")
    password: str = strawberry.field(
        default="", description="SMTP password; kept when an update leaves it empty."
    )
    sender: str = strawberry.field(default="", description="From address (email).")
    recipients: list[str] = strawberry.field(
        default_factory=list, description="To addresses (email)."
    )
