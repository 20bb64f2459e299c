"""GraphQL types for alerting: rules with their state, events, silences, channels."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON


@strawberry.enum(description="How urgent an alert is.")
class Severity(Enum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


@strawberry.enum(description="Where an alert (or one of its series) stands.")
class AlertState(Enum):
    INACTIVE = strawberry.enum_value("INACTIVE", description="The condition does not hold.")
    PENDING = strawberry.enum_value(
        "PENDING", description="The condition holds, for less than `for` so far."
    )
    FIRING = strawberry.enum_value("FIRING", description="The condition held for `for`.")
    RESOLVED = strawberry.enum_value(
        "RESOLVED", description="It fired and the condition no longer holds."
    )
    NODATA = strawberry.enum_value("NODATA", description="The metrics it reads have no points.")
    ERROR = strawberry.enum_value("ERROR", description="Evaluation failed (e.g. store down).")


@strawberry.enum(description="What kind of condition a rule has.")
class AlertKind(Enum):
    STATIC = strawberry.enum_value("STATIC", description="Compares against constants.")
    DYNAMIC = strawberry.enum_value(
        "DYNAMIC", description="Compares against a band learned from history (`band(...)`)."
    )


@strawberry.enum(description="What an alert event reports.")
class AlertEventKind(Enum):
    TRANSITION = strawberry.enum_value("TRANSITION", description="A state change.")
    NOTIFICATION = strawberry.enum_value(
        "NOTIFICATION",
        description="A group notified without a state change now (its wait ended, or a repeat).",
    )


@strawberry.enum(description="Whether a transition was notified, and if not, why.")
class NotificationStatus(Enum):
    SENT = strawberry.enum_value("SENT", description="Notifications were queued for delivery.")
    QUEUED = strawberry.enum_value(
        "QUEUED", description="Its group waits (groupWait / groupInterval) until `dueAt`."
    )
    HELD = strawberry.enum_value(
        "HELD", description="Its group's last notification already says this (e.g. a flap)."
    )
    SILENCED = strawberry.enum_value("SILENCED", description="A silence mutes it.")
    NONE = strawberry.enum_value("NONE", description="Not a notifying change (see `reason`).")


@strawberry.enum(description="Kinds of notification channel.")
class ChannelKind(Enum):
    WEBHOOK = strawberry.enum_value(
        "webhook", description="JSON POST signed with HMAC-SHA256 (X-Alert-Signature)."
    )
    SLACK = strawberry.enum_value("slack", description="A Slack incoming webhook.")
    EMAIL = strawberry.enum_value("email", description="Mail over SMTP, optionally STARTTLS.")


@strawberry.enum(description="How a label matcher compares.")
class MatchOperator(Enum):
    EQUAL = strawberry.enum_value("=", description="Equal.")
    NOT_EQUAL = strawberry.enum_value("!=", description="Not equal.")
    REGEX = strawberry.enum_value("=~", description="Matches the regular expression (whole).")
    NOT_REGEX = strawberry.enum_value("!~", description="Does not match the regular expression.")


@strawberry.type(description="Whether and how a transition was notified.")
class NotificationDecision:
    status: NotificationStatus = strawberry.field(description="Sent, queued, held, or not.")
    reason: str = strawberry.field(description="Why, in words.")
    silence_ids: list[str] = strawberry.field(description="Silences that mute this alert.")
    group: str | None = strawberry.field(description="The notification group (its labels).")
    notification_ids: list[str] = strawberry.field(
        description="Ids of the notifications queued (deliveries carry them for deduplication)."
    )
    due_at: datetime | None = strawberry.field(description="When QUEUED: when it will be sent.")


@strawberry.type(description="A state change of an alert, or a notification of its group.")
class AlertEvent:
    id: str = strawberry.field(description="Stable id: alert, series and transition number.")
    kind: AlertEventKind = strawberry.field(description="Transition or notification.")
    alert_id: strawberry.ID = strawberry.field(description="The alert rule.")
    alert_name: str = strawberry.field(description="The alert's name.")
    severity: Severity = strawberry.field(description="The alert's severity.")
    labels: JSON = strawberry.field(description="Labels of the series (with alertname).")
    previous_state: AlertState | None = strawberry.field(description="State before.")
    state: AlertState = strawberry.field(description="State after.")
    value: float | None = strawberry.field(description="The condition's value at that moment.")
    at: datetime = strawberry.field(description="When it happened.")
    error: str | None = strawberry.field(description="For ERROR: what failed.")
    annotations: JSON = strawberry.field(description="The rule's annotations, filled in.")
    notification: NotificationDecision = strawberry.field(
        description="Whether a notification went out for it, and if not, what held it."
    )
    cursor: str | None = strawberry.field(
        default=None,
        description="Position in the live stream (subscriptions only): pass as `since` to "
        "resume right after this event.",
    )


@strawberry.type(description="One series of an alert rule and its state.")
class AlertInstance:
    labels: JSON = strawberry.field(description="Labels of the series.")
    state: AlertState = strawberry.field(description="Its state.")
    value: float | None = strawberry.field(description="Latest value of the condition.")
    since: datetime = strawberry.field(description="When it entered this state.")
    active_since: datetime | None = strawberry.field(description="Condition true since.")
    fired_at: datetime | None = strawberry.field(description="When it last started firing.")
    error: str | None = strawberry.field(description="For ERROR: what failed.")


@strawberry.type(description="One label condition of a silence.")
class Matcher:
    label: str = strawberry.field(description="Label name.")
    operator: MatchOperator = strawberry.field(description="How it compares.")
    value: str = strawberry.field(description="Value or regular expression.")


@strawberry.type(description="Mutes notifications of matching alerts between two moments.")
class Silence:
    id: strawberry.ID = strawberry.field(description="Silence id.")
    matchers: list[Matcher] = strawberry.field(description="All must match an alert's labels.")
    starts_at: datetime = strawberry.field(description="Start.")
    ends_at: datetime = strawberry.field(description="End (exclusive).")
    created_by: str = strawberry.field(description="API key id that created it.")
    comment: str = strawberry.field(description="Why.")
    active: bool = strawberry.field(description="Whether it mutes now.")


@strawberry.type(description="Where notifications go. Rules name channels in channels/actions.")
class Channel:
    id: strawberry.ID = strawberry.field(description="Channel id.")
    name: str = strawberry.field(description="Name rules refer to.")
    kind: ChannelKind = strawberry.field(description="Webhook, Slack or email.")
    url: str = strawberry.field(description="Target URL (webhook, Slack), path hidden.")
    has_secret: bool = strawberry.field(description="Whether webhooks are signed.")
    timeout: str = strawberry.field(description="Per-attempt timeout.")
    max_retries: int = strawberry.field(description="Immediate retries per attempt.")
    smtp_host: str = strawberry.field(description="SMTP server (email).")
    smtp_port: int = strawberry.field(description="SMTP port (email).")
    start_tls: bool = strawberry.field(description="Upgrade SMTP with STARTTLS.")
    sender: str = strawberry.field(description="From address (email).")
    recipients: list[str] = strawberry.field(description="To addresses (email).")
    version: int = strawberry.field(description="Version, for concurrent changes.")


@strawberry.enum(
    description="What became of a delivery. Receivers' replies are never shown: only this "
    "class and a reason of the gateway's own."
)
class DeliveryOutcome(Enum):
    DELIVERED = strawberry.enum_value("delivered", description="The receiver accepted it (2xx).")
    REFUSED = strawberry.enum_value("refused", description="The receiver answered 4xx.")
    FAILED = strawberry.enum_value(
        "failed", description="The receiver answered 5xx, 408 or 429 (retried)."
    )
    REDIRECTED = strawberry.enum_value(
        "redirected", description="The receiver answered 3xx; redirects are not followed."
    )
    TIMED_OUT = strawberry.enum_value("timed_out", description="No answer within the timeout.")
    UNREACHABLE = strawberry.enum_value(
        "unreachable", description="No connection, or it broke before an answer."
    )
    BLOCKED = strawberry.enum_value(
        "blocked",
        description="The destination is not allowed: loopback, private, link-local and other "
        "non-public addresses are refused unless the operator allows them.",
    )
    INVALID = strawberry.enum_value(
        "invalid", description="The channel cannot be sent to as configured."
    )


@strawberry.type(description="The result of sending a test notification.")
class ChannelTestResult:
    ok: bool = strawberry.field(description="Whether it arrived.")
    outcome: DeliveryOutcome = strawberry.field(description="What became of it.")
    error: str | None = strawberry.field(description="Why not, in the gateway's words.")


@strawberry.type(description="A notification a simulated rule would have sent.")
class SimulatedNotification:
    id: str = strawberry.field(description="Its deterministic id.")
    target: str = strawberry.field(description="Channel or action name.")
    action: bool = strawberry.field(description="Whether the target is an action.")
    status: str = strawberry.field(description="firing or resolved.")
    at: datetime = strawberry.field(description="When it would have been sent.")
    alerts: JSON = strawberry.field(description="The alerts it would have carried.")


@strawberry.type(description="What a rule would have done over past data.")
class SimulationResult:
    evaluations: int = strawberry.field(description="Evaluations replayed.")
    transitions: list[AlertEvent] = strawberry.field(description="State changes, in order.")
    notifications: list[SimulatedNotification] = strawberry.field(
        description="Notifications that would have been sent, in order."
    )


@strawberry.type(
    description="An alert rule of the caller's tenant, with its current state and history."
)
class Alert:
    id: strawberry.ID = strawberry.field(description="Alert id.")
    name: str = strawberry.field(description="Name (the alertname label).")
    condition: str = strawberry.field(description="The condition, in the rule language.")
    kind: AlertKind = strawberry.field(description="Static or dynamic threshold.")
    severity: Severity = strawberry.field(description="Severity.")
    for_: str = strawberry.field(name="for", description="How long the condition must hold.")
    keep_firing_for: str = strawberry.field(
        description="How long it keeps firing after the condition stops holding."
    )
    interval: str = strawberry.field(description="Evaluation interval (also on ingest).")
    channels: list[str] = strawberry.field(description="Channels notified on fire and resolve.")
    actions: list[str] = strawberry.field(description="Actions (webhooks) run when it fires.")
    labels: JSON = strawberry.field(description="Labels added to every notification.")
    annotations: JSON = strawberry.field(
        description="Templates ({{ $value }}, {{ $labels.x }}) filled in per notification."
    )
    enabled: bool = strawberry.field(description="Disabled rules are not evaluated.")
    group_by: list[str] = strawberry.field(description="Labels that split notification groups.")
    group_wait: str = strawberry.field(description="Wait before a group's first notification.")
    group_interval: str = strawberry.field(description="Minimum time between a group's messages.")
    repeat_interval: str = strawberry.field(description="Re-send an unchanged firing group.")
    version: int = strawberry.field(description="Version, for updateAlert(version:).")
    created_at: datetime = strawberry.field(description="Created.")
    updated_at: datetime = strawberry.field(description="Last changed.")
    created_by: str = strawberry.field(description="API key id that created it.")
    state: AlertState = strawberry.field(description="The most urgent state of its series.")
    instances: list[AlertInstance] = strawberry.field(description="Its series and their states.")
    recent: strawberry.Private[list[AlertEvent]]
    tenant: strawberry.Private[str]

    @strawberry.field(description="Recent state changes, newest first.")
    def history(
        self,
        limit: Annotated[int, strawberry.argument(description="At most this many (1-100).")] = 20,
    ) -> list[AlertEvent]:
        return list(reversed(self.recent))[: max(1, min(limit, 100))]

    @strawberry.field(
        description="Which gateway process evaluates it now (with several replicas on Redis, "
        "exactly one); null when none holds its lease."
    )
    async def evaluator(self, info: strawberry.Info) -> str | None:
        alerts = info.context.services.alerts
        return await alerts.evaluator(self.tenant, str(self.id))  # type: ignore[no-any-return]
