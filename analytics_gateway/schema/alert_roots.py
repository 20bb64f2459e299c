"""Root fields for alerting, as bases of the root Query, Mutation and Subscription types."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from analytics_gateway.context import Info
from analytics_gateway.resolvers import alerts as resolvers
from analytics_gateway.schema.alert_inputs import AlertRuleInput, ChannelInput, SilenceInput
from analytics_gateway.schema.alerts import (
    Alert,
    AlertEvent,
    AlertState,
    Channel,
    ChannelTestResult,
    Severity,
    Silence,
    SimulationResult,
)
from analytics_gateway.schema.arguments import Since
from analytics_gateway.schema.ml import Sensitivity

ALERT_ID = strawberry.argument(description="Alert id.")
CHANNEL_ID = strawberry.argument(description="Channel id.")


@strawberry.type(description="Alerts, silences and channels of the caller's tenant.")
class AlertQuery:
    @strawberry.field(description="Alert rules with their state, by name; optionally filtered.")
    async def alerts(
        self,
        info: Info,
        state: Annotated[
            AlertState | None, strawberry.argument(description="Only alerts in this state.")
        ] = None,
        severity: Annotated[
            Severity | None, strawberry.argument(description="Only alerts of this severity.")
        ] = None,
    ) -> list[Alert] | None:
        return await resolvers.resolve_alerts(info, state, severity)

    @strawberry.field(
        description="One alert with its state, series and history; NOT_FOUND if none."
    )
    async def alert(self, info: Info, id: Annotated[strawberry.ID, ALERT_ID]) -> Alert | None:
        return await resolvers.resolve_alert(info, str(id))

    @strawberry.field(description="Silences, optionally only those muting now (or not).")
    async def silences(
        self,
        info: Info,
        active: Annotated[
            bool | None, strawberry.argument(description="true: active now; false: not.")
        ] = None,
    ) -> list[Silence] | None:
        return await resolvers.resolve_silences(info, active)

    @strawberry.field(description="Notification channels and actions, by name.")
    async def channels(self, info: Info) -> list[Channel] | None:
        return await resolvers.resolve_channels(info)

    @strawberry.field(
        description="Replay stored history through a rule as if it had been live: pending "
        "period, keep-firing, no-data, grouping and current silences, with the evaluator's code. "
        "Returns the transitions and the notifications that would have been sent."
    )
    async def simulate_alert(
        self,
        info: Info,
        rule: Annotated[AlertRuleInput, strawberry.argument(description="The rule to try.")],
        last: Annotated[str, strawberry.argument(description='Range ending now, e.g. "7d".')],
    ) -> SimulationResult | None:
        return await resolvers.resolve_simulate(info, rule, last)


@strawberry.type(
    description="Change alerts and silences (needs the write scope) and channels (admin)."
)
class AlertMutation:
    @strawberry.mutation(
        description="Create an alert rule; channels and actions must name existing channels."
    )
    async def create_alert(
        self,
        info: Info,
        input: Annotated[AlertRuleInput, strawberry.argument(description="The rule.")],
    ) -> Alert:
        return await resolvers.resolve_create_alert(info, input)

    @strawberry.mutation(
        description="Create an alert on a trained anomaly model: it fires while the model's "
        'score of new points (the metric `ml_anomaly_score{model="<id>"}`) is at or above '
        "the threshold. A rule like any other: it can be read, updated, silenced, simulated."
    )
    async def create_ml_alert(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="Name; also the alertname label.")],
        model: Annotated[strawberry.ID, strawberry.argument(description="An ANOMALY model id.")],
        threshold: Annotated[
            float | None,
            strawberry.argument(
                description="Score in (0, 1) to fire at; default: the sensitivity's threshold."
            ),
        ] = None,
        sensitivity: Annotated[
            Sensitivity | None,
            strawberry.argument(
                description="Used when no threshold is given; default: the model's own."
            ),
        ] = None,
        severity: Annotated[Severity, strawberry.argument(description="Severity.")] = (
            Severity.WARNING
        ),
        for_: Annotated[
            str,
            strawberry.argument(name="for", description="How long the score must stay high."),
        ] = "0s",
        channels: Annotated[
            list[str] | None, strawberry.argument(description="Channel names to notify.")
        ] = None,
    ) -> Alert:
        return await resolvers.resolve_create_ml_alert(
            info, name, str(model), threshold, sensitivity, severity, for_, channels or []
        )

    @strawberry.mutation(
        description="Replace an alert rule. With `version`, CONFLICT if it changed since."
    )
    async def update_alert(
        self,
        info: Info,
        id: Annotated[strawberry.ID, ALERT_ID],
        input: Annotated[AlertRuleInput, strawberry.argument(description="The new rule.")],
        version: Annotated[
            int | None, strawberry.argument(description="The version this change is based on.")
        ] = None,
    ) -> Alert:
        return await resolvers.resolve_update_alert(info, str(id), input, version)

    @strawberry.mutation(description="Delete an alert rule and its state; false if none.")
    async def delete_alert(self, info: Info, id: Annotated[strawberry.ID, ALERT_ID]) -> bool:
        return await resolvers.resolve_delete_alert(info, str(id))

    @strawberry.mutation(description="Mute notifications of matching alerts for a while.")
    async def create_silence(
        self,
        info: Info,
        input: Annotated[SilenceInput, strawberry.argument(description="The silence.")],
    ) -> Silence:
        return await resolvers.resolve_create_silence(info, input)

    @strawberry.mutation(description="End a silence now.")
    async def expire_silence(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Id.")]
    ) -> Silence:
        return await resolvers.resolve_expire_silence(info, str(id))

    @strawberry.mutation(description="Create a notification channel or action.")
    async def create_channel(
        self,
        info: Info,
        input: Annotated[ChannelInput, strawberry.argument(description="The channel.")],
    ) -> Channel:
        return await resolvers.resolve_create_channel(info, input)

    @strawberry.mutation(description="Replace a channel (empty secret/password keep the old).")
    async def update_channel(
        self,
        info: Info,
        id: Annotated[strawberry.ID, CHANNEL_ID],
        input: Annotated[ChannelInput, strawberry.argument(description="The channel.")],
    ) -> Channel:
        return await resolvers.resolve_update_channel(info, str(id), input)

    @strawberry.mutation(description="Delete a channel no alert uses; false if none.")
    async def delete_channel(self, info: Info, id: Annotated[strawberry.ID, CHANNEL_ID]) -> bool:
        return await resolvers.resolve_delete_channel(info, str(id))

    @strawberry.mutation(description="Send a test notification to a channel now.")
    async def test_channel(
        self, info: Info, id: Annotated[strawberry.ID, CHANNEL_ID]
    ) -> ChannelTestResult:
        return await resolvers.resolve_test_channel(info, str(id))


@strawberry.type(description="Live alert events of the caller's tenant.")
class AlertSubscription:
    @strawberry.subscription(
        description="Every alert state change (and group notification), each saying whether "
        "a notification went out and, if not, which silence or group held it."
    )
    async def alert_events(
        self,
        info: Info,
        severity: Annotated[
            Severity | None, strawberry.argument(description="Only events of this severity.")
        ] = None,
        since: Since = None,
    ) -> AsyncGenerator[AlertEvent, None]:
        async for event in resolvers.subscribe_alert_events(info, severity, since):
            yield event
