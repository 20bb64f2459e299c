"""`AlertManager`: the brief's static and ML alerts, the channels they notify, and
their live events.

Rules need a key with the `write` scope; channels need `admin` (they reach the
network: the gateway only lets them reach public addresses unless its operator
allows more with `ANALYTICS_EGRESS_ALLOW`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from analytics_gateway_client._convert import enum_of, labels_of, optional_enum
from analytics_gateway_client.generated.enums import (
    AlertState,
    ChannelKind,
    ModelKind,
    Sensitivity,
    Severity,
)
from analytics_gateway_client.generated.input_types import AlertRuleInput, ChannelInput
from analytics_gateway_client.results import Alert, AlertDetail, AlertEvent, Channel
from analytics_gateway_client.transport import Subscription, required

if TYPE_CHECKING:
    from analytics_gateway_client.client import AnalyticsClient


class AlertManager:
    """Creates and reads the tenant's alert rules and channels."""

    def __init__(self, client: AnalyticsClient) -> None:
        self._client = client

    async def create_alert(
        self,
        name: str,
        condition: str,
        *,
        severity: Severity | str = Severity.WARNING,
        channels: Sequence[str] = (),
        actions: Sequence[str] = (),
        for_: str = "0s",
        keep_firing_for: str = "0s",
        interval: str = "30s",
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        group_by: Sequence[str] = (),
        enabled: bool = True,
    ) -> Alert:
        """An alert rule, as the brief writes it:

            await alerts.create_alert(
                name="High Error Rate", condition="error_rate > 0.05", severity="critical",
                channels=["slack", "email"], actions=["scale_up", "notify_oncall"],
            )

        `condition` is in the gateway's rule language (`avg(error_rate[5m]) > 0.05`,
        `cpu_usage outside band(7d, sensitivity=high)`...); it must hold for `for_`
        before the rule fires. `channels` and `actions` name existing channels
        (`create_channel`)."""
        rule = AlertRuleInput.model_validate(
            {
                "name": name,
                "condition": condition,
                "severity": enum_of(Severity, severity),
                "channels": list(channels),
                "actions": list(actions),
                "for": for_,
                "keepFiringFor": keep_firing_for,
                "interval": interval,
                "labels": labels_of(labels),
                "annotations": dict(annotations) if annotations is not None else None,
                "groupBy": list(group_by),
                "enabled": enabled,
            }
        )
        answer = await self._client.call(self._client.graphql.create_alert(rule))
        return answer.create_alert

    async def create_ml_alert(
        self,
        name: str,
        model: str,
        *,
        threshold: float | None = None,
        sensitivity: Sensitivity | str | None = None,
        severity: Severity | str = Severity.WARNING,
        for_: str = "0s",
        channels: Sequence[str] | None = None,
    ) -> Alert:
        """An alert on a trained anomaly model, as the brief writes it:

            await alerts.create_ml_alert(
                name="Anomaly Detection", model="anomaly_detector",
                threshold=0.8, sensitivity="high",
            )

        It fires while the model's score of new points is at or above `threshold`
        (else the `sensitivity`'s threshold, else the model's own). `model` is an
        ANOMALY model's id, or the name it was trained with (the newest such model)."""
        answer = await self._client.call(
            self._client.graphql.create_ml_alert(
                name=name,
                model=await self._model_id(model),
                severity=enum_of(Severity, severity),
                for_=for_,
                threshold=threshold,
                sensitivity=optional_enum(Sensitivity, sensitivity),
                channels=list(channels) if channels is not None else None,
            )
        )
        return answer.create_ml_alert

    async def _model_id(self, model: str) -> str:
        """The id of the ANOMALY model `model` names (by id, else by name); `model`
        itself when none does, so the gateway answers NOT_FOUND."""
        models = await self._client.anomalies.models()
        if any(m.id == model for m in models):
            return model
        named = [m for m in models if m.name == model and m.kind is ModelKind.ANOMALY]
        return named[0].id if named else model

    async def alerts(
        self,
        *,
        state: AlertState | str | None = None,
        severity: Severity | str | None = None,
    ) -> list[Alert]:
        """The tenant's rules, most urgent first; only those in `state` / of `severity`."""
        answer = await self._client.call(
            self._client.graphql.alerts(
                state=optional_enum(AlertState, state),
                severity=optional_enum(Severity, severity),
            )
        )
        return list(required(answer.alerts, "alerts"))

    async def get(self, alert_id: str, *, history: int = 20) -> AlertDetail:
        """One rule with its series and its `history` latest state changes; NotFound if none."""
        answer = await self._client.call(self._client.graphql.alert(alert_id, history=history))
        return required(answer.alert, "alert")

    async def delete(self, alert_id: str) -> bool:
        """Delete a rule and its state; False when there was none."""
        answer = await self._client.call(self._client.graphql.delete_alert(alert_id))
        return answer.delete_alert

    async def create_channel(
        self,
        name: str,
        kind: ChannelKind | str,
        *,
        url: str = "",
        secret: str = "",
        smtp_host: str = "",
        smtp_port: int = 25,
        start_tls: bool = False,
        username: str = "",
        password: str = "",
        sender: str = "",
        recipients: Sequence[str] = (),
        send_timeout: str = "5s",
        max_retries: int = 2,
    ) -> Channel:
        """A notification channel or action that rules name in `channels`/`actions`:
        `webhook` or `slack` with a `url`, or `email` with `smtp_host`, `sender` and
        `recipients`; `send_timeout` bounds each attempt. Needs the `admin` scope."""
        values: dict[str, Any] = {
            "name": name,
            "kind": enum_of(ChannelKind, kind),
            "url": url,
            "secret": secret,
            "smtpHost": smtp_host,
            "smtpPort": smtp_port,
            "startTls": start_tls,
            "username": username,
            "password": password,
            "sender": sender,
            "recipients": list(recipients),
            "timeout": send_timeout,
            "maxRetries": max_retries,
        }
        channel = ChannelInput.model_validate(values)
        answer = await self._client.call(self._client.graphql.create_channel(channel))
        return answer.create_channel

    async def channels(self) -> list[Channel]:
        """The tenant's channels and actions, by name."""
        answer = await self._client.call(self._client.graphql.channels())
        return list(required(answer.channels, "channels"))

    def events(
        self, *, severity: Severity | str | None = None, since: str | None = None
    ) -> Subscription[AlertEvent]:
        """Every alert state change (and group notification) from now on, each saying
        whether a notification went out; `since` (an event's `cursor`) replays first."""
        stream = self._client.graphql.alert_events(
            severity=optional_enum(Severity, severity), since=since
        )
        return self._client.subscribe(stream, lambda message: message.alert_events)
