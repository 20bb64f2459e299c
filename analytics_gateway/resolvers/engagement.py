"""Resolvers for `activeUsers`, `stickiness`, `topItems` and `newUsers`: authorise, check,
ask the event store's engagement (or journeys) side through the behaviour cache, shape the
answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analytics_gateway.backends.base import ActiveUsersQuery, NewUsersQuery, TopItemsQuery
from analytics_gateway.behaviour import new_users
from analytics_gateway.behaviour.engagement import (
    DEFAULT_RANGE_MS,
    Stickiness,
    check_first,
    check_interval,
    filled,
    interval_starts,
    stickiness,
    stickiness_window,
)
from analytics_gateway.context import Info
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.inputs import metric_name, time_range
from analytics_gateway.privacy.sensitive import KEY_RE
from analytics_gateway.resolvers.behaviour import behaviour_cache
from analytics_gateway.services import Services


def _range(
    services: Services, last: str | None, start: datetime | None, end: datetime | None
) -> tuple[int, int]:
    """`last` or `from`/`to` as other event reads take them; default the last 30 days."""
    now = services.clock()
    start_ms, end_ms = time_range(last, start, end, now_ms=now, default_ms=DEFAULT_RANGE_MS)
    assert start_ms is not None
    assert end_ms is not None
    return start_ms, end_ms


def _event_type(event_type: str | None) -> str | None:
    return None if event_type is None else metric_name(event_type, "eventType")


async def _active_users(
    services: Services, query: ActiveUsersQuery
) -> tuple[list[tuple[int, int]], int]:
    def decode(raw: Any) -> tuple[list[tuple[int, int]], int]:
        return [(int(at), int(n)) for at, n in raw[0]], int(raw[1])

    return await behaviour_cache(services).answer(
        query.tenant,
        query,
        lambda: services.backends.events.engagement().active_users(query),
        decode,
    )


async def resolve_active_users(
    info: Info,
    interval_name: str,
    event_type: str | None,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[int, int, list[tuple[int, int]], int]:
    principal = info.context.require(Scope.READ)
    return await active_users(
        principal, info.context.services, interval_name, event_type, last, start, end
    )


async def active_users(
    principal: Principal,
    services: Services,
    interval_name: str,
    event_type: str | None,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[int, int, list[tuple[int, int]], int]:
    """(start, end, (interval start, users) of every interval, distinct users of the range),
    for an authorised caller (GraphQL and REST)."""
    interval = check_interval(interval_name)
    start_ms, end_ms = _range(services, last, start, end)
    interval_starts(start_ms, end_ms, interval)  # refused before the store is asked
    query = ActiveUsersQuery(principal.tenant, _event_type(event_type), start_ms, end_ms, interval)
    counts, total = await _active_users(services, query)
    return start_ms, end_ms, filled(counts, start_ms, end_ms, interval), total


async def resolve_stickiness(
    info: Info,
    event_type: str | None,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> Stickiness:
    principal = info.context.require(Scope.READ)
    return await user_stickiness(principal, info.context.services, event_type, last, start, end)


async def user_stickiness(
    principal: Principal,
    services: Services,
    event_type: str | None,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> Stickiness:
    """`stickiness` for an authorised caller (GraphQL and REST)."""
    start_ms, end_ms = stickiness_window(*_range(services, last, start, end))
    query = ActiveUsersQuery(principal.tenant, _event_type(event_type), start_ms, end_ms, "day")
    daily, monthly = await _active_users(services, query)
    return stickiness(daily, monthly, start_ms, end_ms)


async def resolve_top_items(
    info: Info,
    event_type: str,
    field: str,
    by_users: bool,
    first: int,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[tuple[str, int, int]]:
    principal = info.context.require(Scope.READ)
    return await top_items(
        principal, info.context.services, event_type, field, by_users, first, last, start, end
    )


async def top_items(
    principal: Principal,
    services: Services,
    event_type: str,
    field: str,
    by_users: bool,
    first: int,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[tuple[str, int, int]]:
    """`topItems` for an authorised caller (GraphQL and REST): (value, plays, users)."""
    first = check_first(first)
    if not KEY_RE.match(field):
        raise BadUserInput(f"field: {field!r} is not a metadata key name", field="field")
    start_ms, end_ms = _range(services, last, start, end)
    await services.privacy.sensitive.refuse_grouping(principal.tenant, field, "field")
    query = TopItemsQuery(
        tenant=principal.tenant,
        event_type=metric_name(event_type, "eventType"),
        key=field,
        start_ms=start_ms,
        end_ms=end_ms,
        by_users=by_users,
        limit=first,
    )
    return await behaviour_cache(services).answer(
        principal.tenant,
        query,
        lambda: services.backends.events.engagement().top_items(query),
        lambda raw: [(str(v), int(p), int(u)) for v, p, u in raw],
    )


async def resolve_new_users(
    info: Info,
    interval_name: str,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[int, int, list[new_users.NewUsers]]:
    """(start, end, new, returning and active users of every interval of the range)."""
    principal = info.context.require(Scope.READ)
    return await new_and_returning(
        principal, info.context.services, interval_name, last, start, end
    )


async def new_and_returning(
    principal: Principal,
    services: Services,
    interval_name: str,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[int, int, list[new_users.NewUsers]]:
    """`newUsers` for an authorised caller (GraphQL and REST)."""
    interval = check_interval(interval_name)
    start_ms, end_ms = _range(services, last, start, end)
    interval_starts(start_ms, end_ms, interval)  # refused before the store is asked
    query = NewUsersQuery(principal.tenant, start_ms, end_ms, interval, new_users.MAX_USERS)
    counts = await behaviour_cache(services).answer(
        principal.tenant,
        query,
        lambda: services.backends.events.journeys().new_users(query),
        lambda raw: [(int(at), int(new), int(total)) for at, new, total in raw],
    )
    return start_ms, end_ms, new_users.per_interval(counts, start_ms, end_ms, interval)
