"""Engagement types and root fields (a base of the root Query)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from analytics_gateway.context import Info
from analytics_gateway.resolvers import engagement as resolvers
from analytics_gateway.schema.metrics import to_datetime


@strawberry.enum(description="A UTC calendar period.")
class ActivityInterval(Enum):
    DAY = strawberry.enum_value("day", description="A calendar day.")
    WEEK = strawberry.enum_value("week", description="An ISO week, from Monday.")
    MONTH = strawberry.enum_value("month", description="A calendar month.")


@strawberry.enum(description="What ranks top items.")
class TopItemsMeasure(Enum):
    PLAYS = strawberry.enum_value("plays", description="Events carrying the value.")
    UNIQUE_USERS = strawberry.enum_value(
        "unique_users", description="Distinct users with an event carrying the value."
    )


@strawberry.type(description="Distinct users in one interval.")
class ActiveUsersBucket:
    start: datetime = strawberry.field(
        description="The interval's calendar start (UTC); the first interval may start "
        "before the range and counts only its part inside it."
    )
    users: int = strawberry.field(description="Distinct users with an event in it.")


@strawberry.type(description="Distinct users per interval over a range.")
class ActiveUsers:
    interval: ActivityInterval = strawberry.field(description="The interval counted by.")
    from_: datetime = strawberry.field(name="from", description="Range start (inclusive).")
    to: datetime = strawberry.field(description="Range end (exclusive).")
    buckets: list[ActiveUsersBucket] = strawberry.field(
        description="Every interval the range touches, oldest first; 0 where nobody was active."
    )
    total: int = strawberry.field(description="Distinct users over the whole range.")


@strawberry.type(
    description="DAU/MAU over the last 30 UTC days of the range (fewer when the range is "
    "shorter): the average of each day's distinct users (partial days at either end count "
    "as days, days without users as 0), divided by the distinct users of those days."
)
class Stickiness:
    from_: datetime = strawberry.field(name="from", description="Window start (inclusive).")
    to: datetime = strawberry.field(description="Window end (exclusive).")
    days: int = strawberry.field(description="UTC days in the window.")
    daily_active_users: list[int] = strawberry.field(description="Each day's users, oldest first.")
    average_daily_active_users: float = strawberry.field(description="DAU: their average.")
    monthly_active_users: int = strawberry.field(description="MAU: distinct users of the window.")
    stickiness: float | None = strawberry.field(description="DAU / MAU; null without users.")


@strawberry.type(description="New and returning users in one interval.")
class NewUsersBucket:
    start: datetime = strawberry.field(
        description="The interval's calendar start (UTC); the first interval may start "
        "before the range and counts only its part inside it."
    )
    new: int = strawberry.field(
        description="Active users whose first event ever (for the tenant, of any type, "
        "before the range too) is in this interval."
    )
    returning: int = strawberry.field(description="Active users first seen before it.")
    total: int = strawberry.field(description="Distinct users with an event in it: both.")


@strawberry.type(description="New vs returning users per interval over a range.")
class NewUsers:
    interval: ActivityInterval = strawberry.field(description="The interval counted by.")
    from_: datetime = strawberry.field(name="from", description="Range start (inclusive).")
    to: datetime = strawberry.field(description="Range end (exclusive).")
    buckets: list[NewUsersBucket] = strawberry.field(
        description="Every interval the range touches, oldest first; 0 where nobody was active."
    )


@strawberry.type(description="One value of a metadata key, with its events and users.")
class TopItem:
    value: str = strawberry.field(description="The value, as text (e.g. a song_id).")
    plays: int = strawberry.field(description="Events carrying it.")
    users: int = strawberry.field(description="Distinct users with such an event.")


_LAST = strawberry.argument(description='Relative range ending now, e.g. "30d".')
_FROM = strawberry.argument(name="from", description="Range start (inclusive).")
_TO = strawberry.argument(description="Range end (exclusive); default now.")
_TYPE = strawberry.argument(description="Only events of this type; null: every type.")
_RANGE = " The range is `last` or `from`/`to`, the last 30 days by default."
_EXACT = (
    " With Elasticsearch, user counts are exact up to 40,000 per count (its cardinality "
    "precision threshold) and approximate beyond."
)


@strawberry.type(description="Engagement of the caller's tenant's users, from their events.")
class EngagementQuery:
    @strawberry.field(
        description="Distinct users per UTC day, week or month (DAU/WAU/MAU)." + _RANGE + _EXACT
    )
    async def active_users(
        self,
        info: Info,
        interval: Annotated[ActivityInterval, strawberry.argument(description="Per what.")],
        event_type: Annotated[str | None, _TYPE] = None,
        last: Annotated[str | None, _LAST] = None,
        from_: Annotated[datetime | None, _FROM] = None,
        to: Annotated[datetime | None, _TO] = None,
    ) -> ActiveUsers | None:
        start, end, counts, total = await resolvers.resolve_active_users(
            info, interval.name.lower(), event_type, last, from_, to
        )
        return ActiveUsers(
            interval=interval,
            from_=to_datetime(start),
            to=to_datetime(end),
            buckets=[ActiveUsersBucket(start=to_datetime(t), users=n) for t, n in counts],
            total=total,
        )

    @strawberry.field(description="DAU/MAU over the last 30 days of the range." + _RANGE + _EXACT)
    async def stickiness(
        self,
        info: Info,
        event_type: Annotated[str | None, _TYPE] = None,
        last: Annotated[str | None, _LAST] = None,
        from_: Annotated[datetime | None, _FROM] = None,
        to: Annotated[datetime | None, _TO] = None,
    ) -> Stickiness | None:
        found = await resolvers.resolve_stickiness(info, event_type, last, from_, to)
        return Stickiness(
            from_=to_datetime(found.start_ms),
            to=to_datetime(found.end_ms),
            days=found.days,
            daily_active_users=found.daily_active_users,
            average_daily_active_users=found.average_daily,
            monthly_active_users=found.monthly,
            stickiness=found.ratio,
        )

    @strawberry.field(
        description="New vs returning users per UTC day, week or month: an active user is "
        "new in the interval holding their first event ever for the tenant (looked up over "
        "all history), returning otherwise." + _RANGE + " QUERY_TOO_COMPLEX when the tenant "
        "has more than 200,000 users up to the range's end, or the range more than 10,000 "
        "intervals."
    )
    async def new_users(
        self,
        info: Info,
        interval: Annotated[ActivityInterval, strawberry.argument(description="Per what.")],
        last: Annotated[str | None, _LAST] = None,
        from_: Annotated[datetime | None, _FROM] = None,
        to: Annotated[datetime | None, _TO] = None,
    ) -> NewUsers | None:
        start, end, found = await resolvers.resolve_new_users(
            info, interval.name.lower(), last, from_, to
        )
        return NewUsers(
            interval=interval,
            from_=to_datetime(start),
            to=to_datetime(end),
            buckets=[
                NewUsersBucket(
                    start=to_datetime(b.start_ms), new=b.new, returning=b.returning, total=b.total
                )
                for b in found
            ],
        )

    @strawberry.field(
        description="The values of one metadata key (e.g. song_id, artist, country) with the "
        "most events or distinct users, then by value. Events without the key are left out; "
        "a sensitive key is refused." + _RANGE + _EXACT
    )
    async def top_items(
        self,
        info: Info,
        event_type: Annotated[str, strawberry.argument(description="Event type, e.g. song_play.")],
        field: Annotated[str, strawberry.argument(description="The metadata key.")],
        by: Annotated[TopItemsMeasure, strawberry.argument(description="Rank by.")] = (
            TopItemsMeasure.PLAYS
        ),
        first: Annotated[int, strawberry.argument(description="How many, 1 to 100.")] = 10,
        last: Annotated[str | None, _LAST] = None,
        from_: Annotated[datetime | None, _FROM] = None,
        to: Annotated[datetime | None, _TO] = None,
    ) -> list[TopItem] | None:
        found = await resolvers.resolve_top_items(
            info, event_type, field, by is TopItemsMeasure.UNIQUE_USERS, first, last, from_, to
        )
        return [TopItem(value=v, plays=p, users=u) for v, p, u in found]
