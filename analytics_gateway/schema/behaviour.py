"""Behaviour analytics types and root fields (a base of the root Query)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from analytics_gateway.behaviour import funnels
from analytics_gateway.context import Info
from analytics_gateway.resolvers import behaviour as resolvers
from analytics_gateway.schema.engagement import ActivityInterval
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


@strawberry.type(description="Sessions started in one interval.")
class SessionsBucket:
    start: datetime = strawberry.field(
        description="The interval's calendar start (UTC); the first interval may start "
        "before the range and counts only its part inside it."
    )
    sessions: int = strawberry.field(description="Sessions whose first event is in it.")


@strawberry.type(
    description="Sessions: runs of one user's events with no more than `gap` between "
    "consecutive ones; a session lasts from its first event to its last (0 seconds for one "
    "event). Only the range's events count, so sessions are cut at its edges."
)
class Sessions:
    interval: ActivityInterval = strawberry.field(description="The interval counted by.")
    gap_seconds: float = strawberry.field(description="The inactivity gap, in seconds.")
    from_: datetime = strawberry.field(name="from", description="Range start (inclusive).")
    to: datetime = strawberry.field(description="Range end (exclusive).")
    count: int = strawberry.field(description="Sessions in the range.")
    users: int = strawberry.field(description="Distinct users with a session.")
    average_seconds: float | None = strawberry.field(
        description="Average session length in seconds; null without sessions."
    )
    median_seconds: float | None = strawberry.field(
        description="Median session length in seconds (the mean of the middle two for an "
        "even count); null without sessions."
    )
    average_events: float | None = strawberry.field(
        description="Average events per session; null without sessions."
    )
    buckets: list[SessionsBucket] = strawberry.field(
        description="Every interval the range touches, oldest first, with the sessions that "
        "started in it; 0 where none did."
    )


_LAST = strawberry.argument(description='Relative range ending now, e.g. "7d".')
_FROM = strawberry.argument(name="from", description="Range start (inclusive).")
_TO = strawberry.argument(description="Range end (exclusive); default now.")
_JOURNEY_BOUNDS = (
    " The range is `last` or `from`/`to`, the last 30 days by default, at most 366 days. "
    "QUERY_TOO_COMPLEX past 1,000,000 events or 200,000 users in the range."
)


@strawberry.type(description="Sessions of the caller's tenant's users.")
class SessionsQuery:
    @strawberry.field(
        description="Sessions built from each user's events with an inactivity gap: count, "
        "average and median length, events per session, users, and sessions per interval."
        + _JOURNEY_BOUNDS
    )
    async def sessions(
        self,
        info: Info,
        event_type: Annotated[
            str | None,
            strawberry.argument(description="Only events of this type; null: every type."),
        ] = None,
        gap: Annotated[
            str,
            strawberry.argument(
                description='Inactivity that ends a session, e.g. "30m"; from 1m to 24h.'
            ),
        ] = "30m",
        interval: Annotated[
            ActivityInterval,
            strawberry.argument(description="Count sessions per this UTC interval."),
        ] = ActivityInterval.DAY,
        last: Annotated[str | None, _LAST] = None,
        from_: Annotated[datetime | None, _FROM] = None,
        to: Annotated[datetime | None, _TO] = None,
    ) -> Sessions | None:
        found = await resolvers.resolve_sessions(
            info, event_type, gap, interval.name.lower(), last, from_, to
        )
        return Sessions(
            interval=interval,
            gap_seconds=found.gap_ms / 1000,
            from_=to_datetime(found.start_ms),
            to=to_datetime(found.end_ms),
            count=found.count,
            users=found.users,
            average_seconds=found.average_seconds,
            median_seconds=found.median_seconds,
            average_events=found.average_events,
            buckets=[
                SessionsBucket(start=to_datetime(t), sessions=n) for t, n in found.per_interval
            ],
        )


@strawberry.type(description="What users did next after an event, and how often.")
class NextEvent:
    event_type: str = strawberry.field(
        description='The next event\'s type; "(end)" when the user had no next event in '
        "the range within `within`."
    )
    transitions: int = strawberry.field(description="Events followed by this one.")
    users: int = strawberry.field(description="Distinct users with such a transition.")
    share: float = strawberry.field(
        description="`transitions` divided by all events of the `after` type in the range."
    )


@strawberry.type(description="Paths of the caller's tenant's users.")
class PathsQuery:
    @strawberry.field(
        description="The most common next event after each event of one type: for each "
        "such event in the range, its user's next event in the range (by time, then id), "
        'if within `within`, else "(end)". Most transitions first, then by type.' + _JOURNEY_BOUNDS
    )
    async def next_events(
        self,
        info: Info,
        after: Annotated[str, strawberry.argument(description="Event type, e.g. search.")],
        first: Annotated[int, strawberry.argument(description="How many, 1 to 100.")] = 10,
        within: Annotated[
            str,
            strawberry.argument(
                description='How soon the next event must come, e.g. "30m"; at most 24h.'
            ),
        ] = "30m",
        last: Annotated[str | None, _LAST] = None,
        from_: Annotated[datetime | None, _FROM] = None,
        to: Annotated[datetime | None, _TO] = None,
    ) -> list[NextEvent] | None:
        found = await resolvers.resolve_next_events(info, after, first, within, last, from_, to)
        return [
            NextEvent(
                event_type=n.event_type, transitions=n.transitions, users=n.users, share=n.share
            )
            for n in found
        ]


@strawberry.type(description="Behaviour of the caller's tenant's users, from their events.")
class BehaviourQuery(RetentionQuery, FunnelQuery, SessionsQuery, PathsQuery):
    pass
