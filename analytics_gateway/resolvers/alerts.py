"""Resolvers for alerting: authorise, map inputs to specs, call `AlertService`, map back."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlparse

from strawberry.scalars import JSON

from analytics_gateway.alerting import model
from analytics_gateway.alerting.engine import RuleState
from analytics_gateway.alerting.expr import parse_condition
from analytics_gateway.alerting.specs import ChannelSpec, RuleSpec, duration
from analytics_gateway.context import Info
from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.inputs import epoch_ms
from analytics_gateway.ml import detectors
from analytics_gateway.ml.live import SCORE_LABEL, SCORE_METRIC
from analytics_gateway.ml.registry import ANOMALY
from analytics_gateway.resolvers.streams import messages
from analytics_gateway.schema.alert_inputs import AlertRuleInput, ChannelInput, SilenceInput
from analytics_gateway.schema.alerts import (
    Alert,
    AlertEvent,
    AlertEventKind,
    AlertInstance,
    AlertKind,
    AlertState,
    Channel,
    ChannelKind,
    ChannelTestResult,
    DeliveryOutcome,
    Matcher,
    MatchOperator,
    NotificationDecision,
    NotificationStatus,
    Severity,
    Silence,
    SimulatedNotification,
    SimulationResult,
)
from analytics_gateway.schema.metrics import to_datetime
from analytics_gateway.schema.ml import Sensitivity
from analytics_gateway.subscriptions.channels import alerts_channel
from analytics_gateway.subscriptions.cursors import cursor

_UNITS = (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000))


def format_duration(ms: int) -> str:
    if ms == 0:
        return "0s"
    for unit, size in _UNITS:
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def rule_spec(rule: AlertRuleInput) -> RuleSpec:
    return RuleSpec(
        name=rule.name,
        condition=rule.condition,
        severity=model.Severity(rule.severity.value),
        for_=rule.for_,
        keep_firing_for=rule.keep_firing_for,
        interval=rule.interval,
        channels=rule.channels,
        actions=rule.actions,
        labels=cast(Mapping[str, Any] | None, rule.labels),
        annotations=cast(Mapping[str, Any] | None, rule.annotations),
        enabled=rule.enabled,
        group_by=rule.group_by,
        group_wait=rule.group_wait,
        group_interval=rule.group_interval,
        repeat_interval=rule.repeat_interval,
    )


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else to_datetime(ms)


def to_event(doc: Mapping[str, Any], cursor_text: str | None = None) -> AlertEvent:
    why = doc["notification"]
    return AlertEvent(
        id=doc["id"],
        kind=AlertEventKind(doc["kind"]),
        alert_id=doc["alertId"],
        alert_name=doc["alertName"],
        severity=Severity(doc["severity"]),
        labels=doc["labels"],
        previous_state=AlertState(doc["previousState"]) if doc["previousState"] else None,
        state=AlertState(doc["state"]),
        value=doc["value"],
        at=to_datetime(doc["at"]),
        error=doc.get("error"),
        annotations=doc["annotations"],
        notification=NotificationDecision(
            status=NotificationStatus(why["status"]),
            reason=why["reason"],
            silence_ids=why["silenceIds"],
            group=why["group"],
            notification_ids=why["notificationIds"],
            due_at=_dt(why["dueAt"]),
        ),
        cursor=cursor_text,
    )


def to_alert(rule: model.AlertRule, state: RuleState) -> Alert:
    kind = AlertKind.DYNAMIC if parse_condition(rule.condition).is_dynamic else AlertKind.STATIC
    return Alert(
        id=rule.id,  # type: ignore[arg-type]
        name=rule.name,
        condition=rule.condition,
        kind=kind,
        severity=Severity(rule.severity.value),
        for_=format_duration(rule.for_ms),
        keep_firing_for=format_duration(rule.keep_firing_for_ms),
        interval=format_duration(rule.interval_ms),
        channels=list(rule.channels),
        actions=list(rule.actions),
        labels=cast(JSON, dict(rule.labels)),
        annotations=cast(JSON, dict(rule.annotations)),
        enabled=rule.enabled,
        group_by=list(rule.group_by),
        group_wait=format_duration(rule.group_wait_ms),
        group_interval=format_duration(rule.group_interval_ms),
        repeat_interval=format_duration(rule.repeat_interval_ms),
        version=rule.version,
        created_at=to_datetime(rule.created_at_ms),
        updated_at=to_datetime(rule.updated_at_ms),
        created_by=rule.created_by,
        state=AlertState(state.state.value),
        instances=[
            AlertInstance(
                labels=cast(JSON, i.labels),
                state=AlertState(i.state.value),
                value=i.value,
                since=to_datetime(i.since_ms),
                active_since=_dt(i.active_since_ms),
                fired_at=_dt(i.fired_at_ms),
                error=i.error,
            )
            for i in state.instances.values()
        ],
        recent=[to_event(e) for e in state.history],
        tenant=rule.tenant,
    )


# -- rules ---------------------------------------------------------------------


async def resolve_alerts(
    info: Info, state: AlertState | None, severity: Severity | None
) -> list[Alert]:
    principal = info.context.require(Scope.READ)
    alerts = info.context.services.alerts
    rules = await alerts.rules(principal.tenant)
    states = await alerts.states(principal.tenant)
    out = [to_alert(r, states.get(r.id, RuleState())) for r in rules]
    return [
        a
        for a in sorted(out, key=lambda a: (a.name, str(a.id)))
        if (state is None or a.state == state) and (severity is None or a.severity == severity)
    ]


async def resolve_alert(info: Info, alert_id: str) -> Alert:
    principal = info.context.require(Scope.READ)
    alerts = info.context.services.alerts
    rule = await alerts.rule(principal.tenant, alert_id)
    return to_alert(rule, await alerts.state(principal.tenant, alert_id))


async def resolve_create_alert(info: Info, rule: AlertRuleInput) -> Alert:
    principal = info.context.require(Scope.WRITE)
    created = await info.context.services.alerts.create_rule(
        principal.tenant, rule_spec(rule), principal.key_id
    )
    return to_alert(created, RuleState())


async def resolve_create_ml_alert(
    info: Info,
    name: str,
    model_id: str,
    threshold: float | None,
    sensitivity: Sensitivity | None,
    severity: Severity,
    for_: str,
    channels: list[str],
) -> Alert:
    principal = info.context.require(Scope.WRITE)
    record = await info.context.services.ml.registry.get(principal.tenant, model_id)
    if record.kind != ANOMALY:
        raise BadUserInput(
            f"model {model_id!r} is a {record.kind} model; ML alerts need an ANOMALY model",
            field="model",
        )
    if threshold is not None and not 0 < threshold < 1:
        raise BadUserInput("threshold must be a score between 0 and 1", field="threshold")
    if threshold is None:
        threshold = (
            sensitivity.core().threshold
            if sensitivity is not None
            else record.threshold or detectors.Sensitivity.MEDIUM.threshold
        )
    spec = RuleSpec(
        name=name,
        condition=f'{SCORE_METRIC}{{{SCORE_LABEL}="{record.id}"}} >= {threshold!r}',
        severity=model.Severity(severity.value),
        for_=for_,
        channels=channels,
        labels={"model": record.id, "metric": record.metric},
        annotations={"summary": f"anomaly score {{{{ $value }}}} on {record.metric}"},
    )
    created = await info.context.services.alerts.create_rule(
        principal.tenant, spec, principal.key_id
    )
    return to_alert(created, RuleState())


async def resolve_update_alert(
    info: Info, alert_id: str, rule: AlertRuleInput, version: int | None
) -> Alert:
    principal = info.context.require(Scope.WRITE)
    alerts = info.context.services.alerts
    updated = await alerts.update_rule(principal.tenant, alert_id, rule_spec(rule), version)
    return to_alert(updated, await alerts.state(principal.tenant, alert_id))


async def resolve_delete_alert(info: Info, alert_id: str) -> bool:
    principal = info.context.require(Scope.WRITE)
    return await info.context.services.alerts.delete_rule(principal.tenant, alert_id)


async def resolve_simulate(info: Info, rule: AlertRuleInput, last: str) -> SimulationResult:
    principal = info.context.require(Scope.READ)
    alerts = info.context.services.alerts
    end = alerts.clock()
    start = end - duration(last, "last", zero=False)
    result = await alerts.simulate(principal.tenant, rule_spec(rule), start, end + 1)
    return SimulationResult(
        evaluations=result.evaluations,
        transitions=[to_event(e) for e in result.events if e["kind"] == "TRANSITION"],
        notifications=[
            SimulatedNotification(
                id=n["id"],
                target=n["target"],
                action=n["action"],
                status=n["status"],
                at=to_datetime(n["createdAt"]),
                alerts=n["alerts"],
            )
            for n in result.notifications
        ],
    )


# -- silences ------------------------------------------------------------------


def to_silence(silence: model.Silence, now_ms: int) -> Silence:
    return Silence(
        id=silence.id,  # type: ignore[arg-type]
        matchers=[
            Matcher(label=m.label, operator=MatchOperator(m.op.value), value=m.value)
            for m in silence.matchers
        ],
        starts_at=to_datetime(silence.starts_at_ms),
        ends_at=to_datetime(silence.ends_at_ms),
        created_by=silence.created_by,
        comment=silence.comment,
        active=silence.active(now_ms),
    )


async def resolve_silences(info: Info, active: bool | None) -> list[Silence]:
    principal = info.context.require(Scope.READ)
    alerts = info.context.services.alerts
    now = alerts.clock()
    found = [to_silence(s, now) for s in await alerts.silences(principal.tenant)]
    return [s for s in found if active is None or s.active == active]


async def resolve_create_silence(info: Info, silence: SilenceInput) -> Silence:
    principal = info.context.require(Scope.WRITE)
    alerts = info.context.services.alerts
    start = epoch_ms(silence.starts_at) if silence.starts_at is not None else None
    if (silence.ends_at is None) == (silence.duration is None):
        raise BadUserInput("give either endsAt or duration", field="endsAt")
    if silence.ends_at is not None:
        end = epoch_ms(silence.ends_at)
    else:
        assert silence.duration is not None
        end = (start or alerts.clock()) + duration(silence.duration, "duration", zero=False)
    created = await alerts.create_silence(
        principal.tenant,
        principal.key_id,
        [(m.label, cast(str, m.operator.value), m.value) for m in silence.matchers],
        start,
        end,
        silence.comment,
    )
    return to_silence(created, alerts.clock())


async def resolve_expire_silence(info: Info, silence_id: str) -> Silence:
    principal = info.context.require(Scope.WRITE)
    alerts = info.context.services.alerts
    expired = await alerts.expire_silence(principal.tenant, silence_id)
    return to_silence(expired, alerts.clock())


# -- channels ------------------------------------------------------------------


def _public_url(url: str) -> str:
    """Scheme and host only: webhook paths often carry tokens (Slack's do)."""
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}/..." if parsed.netloc else ""


def to_channel(channel: model.Channel) -> Channel:
    return Channel(
        id=channel.id,  # type: ignore[arg-type]
        name=channel.name,
        kind=ChannelKind(channel.kind.value),
        url=_public_url(channel.url),
        has_secret=bool(channel.secret),
        timeout=format_duration(channel.timeout_ms),
        max_retries=channel.max_retries,
        smtp_host=channel.smtp_host,
        smtp_port=channel.smtp_port,
        start_tls=channel.start_tls,
        sender=channel.sender,
        recipients=list(channel.recipients),
        version=channel.version,
    )


def channel_spec(channel: ChannelInput) -> ChannelSpec:
    return ChannelSpec(
        name=channel.name,
        kind=model.ChannelKind(cast(str, channel.kind.value)),
        url=channel.url,
        secret=channel.secret,
        timeout=channel.timeout,
        max_retries=channel.max_retries,
        smtp_host=channel.smtp_host,
        smtp_port=channel.smtp_port,
        start_tls=channel.start_tls,
        username=channel.username,
        password=channel.password,
        sender=channel.sender,
        recipients=channel.recipients,
    )


async def resolve_channels(info: Info) -> list[Channel]:
    principal = info.context.require(Scope.READ)
    found = await info.context.services.alerts.channels(principal.tenant)
    return [to_channel(c) for c in sorted(found, key=lambda c: c.name)]


async def resolve_create_channel(info: Info, channel: ChannelInput) -> Channel:
    principal = info.context.require(Scope.ADMIN)
    alerts = info.context.services.alerts
    return to_channel(await alerts.create_channel(principal.tenant, channel_spec(channel)))


async def resolve_update_channel(info: Info, channel_id: str, channel: ChannelInput) -> Channel:
    principal = info.context.require(Scope.ADMIN)
    alerts = info.context.services.alerts
    updated = await alerts.update_channel(principal.tenant, channel_id, channel_spec(channel))
    return to_channel(updated)


async def resolve_delete_channel(info: Info, channel_id: str) -> bool:
    principal = info.context.require(Scope.ADMIN)
    return await info.context.services.alerts.delete_channel(principal.tenant, channel_id)


async def resolve_test_channel(info: Info, channel_id: str) -> ChannelTestResult:
    principal = info.context.require(Scope.ADMIN)
    error = await info.context.services.alerts.test_channel(principal.tenant, channel_id)
    if error is None:
        return ChannelTestResult(ok=True, outcome=DeliveryOutcome.DELIVERED, error=None)
    outcome = DeliveryOutcome[error.outcome.name]
    return ChannelTestResult(ok=False, outcome=outcome, error=error.message)


# -- live events ---------------------------------------------------------------


async def subscribe_alert_events(
    info: Info, severity: Severity | None, since: str | None
) -> AsyncGenerator[AlertEvent, None]:
    principal = info.context.require(Scope.READ)
    channel = alerts_channel(principal.tenant)
    async for message_id, event, start in messages(info.context.services.hub, channel, since):
        if start == 0 and (severity is None or event["severity"] == severity.value):
            yield to_event(event, cursor(message_id, 0))
