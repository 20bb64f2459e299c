"""Behaviour analytics types and root fields (a base of the root Query)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from analytics_gateway.behaviour import funnels
from analytics_gateway.context import Info
from analytics_gateway.resolvers import behaviour as resolvers
from analytics_gateway.schema.metrics import to_datetime


@strawberry.enum(description="The period users are grouped by, in UTC.")
class CohortPeriod(Enum):
    DAY = strawberry.enum_value("day", description="A calendar day.")
    WEEK = strawberry.enum_value("week", description="An ISO week, from Monday.")


@strawberry.type(description="Users whose first event in the range fell in one period.")
class RetentionCohort:
    start: datetime = strawberry.field(description="The period's start (UTC).")
    size: int = strawberry.field(description="Users in the cohort.")
    retained: list[int] = strawberry.field(
        description="For k = 0..periods-1, the cohort's users with an event in the k-th "
        "period from the cohort's own (k = 0 is the size); periods past the range count 0."
    )
    rates: list[float] = strawberry.field(description="`retained` divided by `size`.")


@strawberry.type(description="Retention of the caller's tenant's users, from their events.")
class RetentionQuery:
    @strawberry.field(
        description="Retention cohorts, oldest first: users grouped by the period of their "
        "first event in the range, and how many came back in each following period. "
        "QUERY_TOO_COMPLEX when the range holds more than 200,000 users or spans more than "
        "3,660 periods."
    )
    async def retention_cohorts(
        self,
        info: Info,
        event_type: Annotated[
            str | None,
            strawberry.argument(description="Only events of this type; null: every type."),
        ] = None,
        cohort: Annotated[
            CohortPeriod, strawberry.argument(description="Group users by day or by week.")
        ] = CohortPeriod.WEEK,
        periods: Annotated[
            int, strawberry.argument(description="Periods per cohort, 1 to 52.")
        ] = 8,
        last: Annotated[
            str | None, strawberry.argument(description='Relative range ending now, e.g. "28d".')
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Range start (inclusive)."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Range end (exclusive).")
        ] = None,
    ) -> list[RetentionCohort] | None:
        found = await resolvers.resolve_retention(
            info, event_type, cohort is CohortPeriod.WEEK, periods, last, from_, to
        )
        return [
            RetentionCohort(
                start=to_datetime(c.start_ms), size=c.size, retained=c.retained, rates=c.rates
            )
            for c in found
        ]


@strawberry.type(description="One step of a funnel.")
class FunnelStep:
    event_type: str = strawberry.field(description="The step's event type.")
    users: int = strawberry.field(description="Users who reached the step.")
    from_previous: float | None = strawberry.field(
        description="`users` divided by the previous step's; null for the first step."
    )
    from_first: float = strawberry.field(description="`users` divided by the first step's.")
    median_seconds: float | None = strawberry.field(
        description="Median seconds from the previous step to this one over the users who "
        "reached it; null for the first step or when nobody did."
    )


@strawberry.type(description="The funnel of the users whose first step had one breakdown value.")
class FunnelGroup:
    value: str | None = strawberry.field(
        description='The metadata value as text; null when the event had none; "other" for '
        "every value past the 20 with most users."
    )
    steps: list[FunnelStep] = strawberry.field(description="The steps, in order.")


@strawberry.type(description="Users through ordered steps.")
class Funnel:
    steps: list[FunnelStep] = strawberry.field(description="The steps, in order.")
    breakdown: list[FunnelGroup] | None = strawberry.field(
        description="Per value of the `breakdown` key, most users first; null without one."
    )


def _steps(found: list[funnels.FunnelStep]) -> list[FunnelStep]:
    return [
        FunnelStep(
            event_type=s.event_type,
            users=s.users,
            from_previous=s.from_previous,
            from_first=s.from_first,
            median_seconds=s.median_seconds,
        )
        for s in found
    ]


@strawberry.type(description="Funnels of the caller's tenant's users.")
class FunnelQuery:
    @strawberry.field(
        description="Users through ordered steps. A user's attempt starts at their first event "
        "of step 1 in the range; they reach step i with their first step-i event after step "
        "i-1, if it is within `within` of the attempt's start. QUERY_TOO_COMPLEX when the "
        "range holds more than 200,000 users with a step-1 event."
    )
    async def funnel(
        self,
        info: Info,
        steps: Annotated[
            list[str], strawberry.argument(description="Event types, in order: 2 to 10.")
        ],
        within: Annotated[
            str, strawberry.argument(description='Window from step 1, e.g. "1d"; at most 90d.')
        ] = "1d",
        breakdown: Annotated[
            str | None,
            strawberry.argument(description="A metadata key of the step-1 event to split by."),
        ] = None,
        last: Annotated[
            str | None, strawberry.argument(description='Relative range ending now, e.g. "7d".')
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Range start (inclusive)."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Range end (exclusive).")
        ] = None,
    ) -> Funnel | None:
        overall, groups = await resolvers.resolve_funnel(
            info, steps, within, breakdown, last, from_, to
        )
        return Funnel(
            steps=_steps(overall),
            breakdown=None
            if groups is None
            else [FunnelGroup(value=g.value, steps=_steps(g.steps)) for g in groups],
        )


@strawberry.type(description="Behaviour of the caller's tenant's users, from their events.")
class BehaviourQuery(RetentionQuery, FunnelQuery):
    pass
